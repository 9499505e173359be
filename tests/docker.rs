//! The containerised lab, end to end, on this machine's Docker engine (issue: containers).
//!
//! Builds the FROM-scratch image from the static binary, runs `sister lab --docker` (every compose
//! project up, the clients run with `exec`, a capture on each project's bridge, the analysis), checks the
//! reports name the right containers, ports, topics and teardown, and leaves no containers, networks or
//! images behind. Skipped, saying so, only when no Docker engine answers.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::util::{repo, sister_bin, Proc};

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn static_binary() -> PathBuf {
    let candidates = [
        std::env::var_os("SISTER_STATIC_BIN").map(PathBuf::from),
        Some(sister_bin()),
    ];
    for c in candidates.into_iter().flatten() {
        let out = Command::new("file").arg(&c).output();
        let desc = out
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        if desc.contains("statically linked") || desc.contains("static-pie linked") {
            return c;
        }
    }
    panic!(
        "no static sister binary: the image is FROM scratch and needs one. Run ./.ci/run, or \
         RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu \
         and set SISTER_STATIC_BIN to it"
    );
}

fn leftovers(what: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(what))
        .map(str::to_string)
        .collect()
}

/// Removes the test image even when the test fails.
struct Image(String);
impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

#[test]
fn lab_in_containers_captures_and_names_every_container() {
    if !docker_answers() {
        eprintln!("SKIP docker end-to-end: no Docker engine answers (`docker info` failed)");
        return;
    }
    let bin = static_binary();
    let image = Image(format!("sister-e2e:{}", std::process::id()));
    let built = Command::new(repo().join("docker/image.sh"))
        .arg(&bin)
        .arg(&image.0)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "docker/image.sh failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );

    let out = tempfile::tempdir().unwrap();
    let mut cmd = crate::util::sister(&["lab", "--docker", "--keep-going", "--image", &image.0, "--out"]);
    cmd.arg(out.path())
        .env("SISTER_COMPOSE_DIR", repo().join("compose"))
        .current_dir(repo());
    let mut lab = Proc::spawn("sister lab --docker", cmd);
    let status = lab
        .wait_timeout(Duration::from_secs(600))
        .expect("sister lab --docker did not finish in 10 minutes");
    let output = lab.output();
    assert!(status.success(), "sister lab --docker failed\n{output}");

    // The reports name the containers by their compose service, with the port and the protocol details.
    let report = |p: &str| std::fs::read_to_string(out.path().join(format!("{p}.md"))).unwrap_or_default();
    let mqtt = report("mqtt");
    for needle in [
        "mqtt-broker (",
        "mqtt-pub (",
        "mqtt-sub (",
        ":1883",
        "sister/temp",
        "PUBLISH",
    ] {
        assert!(mqtt.contains(needle), "the MQTT report lacks {needle:?}\n{mqtt}");
    }
    // Over TLS: the conversation on 8883 and the broker's name are visible, the topic is not.
    let tls = report("mqtt-tls");
    for needle in ["mqtt-broker (", "mqtt-pub (", ":8883", "TLS"] {
        assert!(
            tls.contains(needle),
            "the MQTT-over-TLS report lacks {needle:?}\n{tls}"
        );
    }
    assert!(
        !tls.contains("sister/temp"),
        "the MQTT-over-TLS report shows the topic\n{tls}"
    );
    let reqresp = report("reqresp");
    for needle in [
        "reqresp-client (",
        "reqresp-server (",
        ":2222",
        "Echo: systems",
        "FIN",
    ] {
        assert!(
            reqresp.contains(needle),
            "the request/response report lacks {needle:?}\n{reqresp}"
        );
    }
    let upcall = report("upcall");
    for needle in [
        "upcall-client (",
        "upcall-server (",
        ":4141",
        "Upcall event: Processing hello",
    ] {
        assert!(
            upcall.contains(needle),
            "the upcall report lacks {needle:?}\n{upcall}"
        );
    }
    for p in [
        "mqtt", "mqtt-tls", "reqresp", "upcall", "udp", "rest", "rpc", "soap", "zmq", "ice", "corba",
    ] {
        let pcap = out.path().join(format!("{p}.pcap"));
        assert!(
            pcap.metadata().map(|m| m.len() > 24).unwrap_or(false),
            "no capture for {p}\n{output}"
        );
    }

    web_profile_shows_the_brokers_topics(&image.0);

    // Nothing left behind: containers, networks (the image goes with `Image`'s drop, checked below).
    assert_eq!(
        leftovers("sister-lab-", &["ps", "-a", "--format", "{{.Names}}"]),
        Vec::<String>::new()
    );
    let nets = leftovers("sister-", &["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.is_empty(), "networks left behind: {nets:?}");
    let tag = image.0.clone();
    drop(image);
    assert!(leftovers(&tag, &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]).is_empty());
}

/// `compose/mqtt.yml --profile web`: the page's container follows the broker's container, and a
/// message published from the host shows in its topic tree (on the host's loopback only).
fn web_profile_shows_the_brokers_topics(image: &str) {
    let compose: Vec<String> = if Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        vec!["docker".into(), "compose".into()]
    } else {
        vec!["docker-compose".into()]
    };
    let project = format!("sister-lab-web-{}", std::process::id());
    let mqtt_port = crate::util::free_tcp_port();
    let web_port = crate::util::free_tcp_port();
    let run = |args: &[&str]| {
        let mut c = Command::new(&compose[0]);
        c.args(&compose[1..])
            .args(["-p", &project, "-f", "compose/mqtt.yml", "--profile", "web"])
            .args(args)
            .current_dir(repo())
            .env("SISTER_IMAGE", image)
            .env("PUBLISH_PORT", mqtt_port.to_string())
            .env("WEB_PORT", web_port.to_string());
        c.output().expect("docker compose")
    };
    struct Down<'a>(&'a dyn Fn(&[&str]) -> std::process::Output);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            (self.0)(&["down", "-v", "--remove-orphans"]);
        }
    }
    let up = run(&["up", "-d"]);
    let _down = Down(&run);
    assert!(
        up.status.success(),
        "compose up --profile web: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    crate::util::wait_for_tcp(crate::util::local(web_port), Duration::from_secs(30));
    let (status, _, err) = crate::util::run_sister(
        &[
            "mqtt",
            "pub",
            "--server",
            &format!("127.0.0.1:{mqtt_port}"),
            "--wait",
            "20",
            "-r",
            "-t",
            "sister/temp",
            "-m",
            "Suhu: 28°C",
        ],
        Duration::from_secs(30),
    );
    assert!(status.success(), "{err}");
    let url = format!("http://127.0.0.1:{web_port}/api/topics");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let topics = crate::util::try_http_get(&url).unwrap_or_else(|e| e);
        if topics.contains("\"topic\":\"sister/temp\"") && topics.contains("Suhu: 28°C") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the web container never showed sister/temp: {topics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
