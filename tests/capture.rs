//! `sister capture` end to end: a live capture on `lo` while real sockets talk, checked with tshark.
//!
//! The live tests need CAP_NET_RAW (CI runs as root); without it they fail with the message saying so,
//! because a capture test that silently skips could never catch a broken capture.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{free_tcp_port, sister, spawn_sister};

/// Frames of a pcap file as tshark sees them: one line of tab-separated fields per frame.
fn tshark_fields(file: &Path, filter: Option<&str>, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-o", "tcp.relative_sequence_numbers:TRUE", "-r"])
        .arg(file);
    if let Some(f) = filter {
        cmd.args(["-Y", f]);
    }
    cmd.args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark must be installed (.ci/run installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tshark failed on {}: {stderr}",
        file.display()
    );
    // tshark warns about a file "cut short in the middle of a packet": that is a lost tail.
    assert!(
        !stderr.contains("cut short"),
        "pcap was not closed properly: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn require_root() {
    // SAFETY-free check: /proc/self/status has the effective capability set.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    const CAP_NET_RAW: u64 = 1 << 13;
    assert!(
        eff & CAP_NET_RAW != 0,
        "the live capture tests need CAP_NET_RAW: run them as root (CI does) or with \
         `sudo setcap cap_net_raw+ep` on the test binary"
    );
}

/// TCP request/response and two UDP datagrams on `port`, plus noise on another port that the filter
/// must leave out.
fn exchange(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        s.write_all(&[b"Echo: ".as_slice(), &buf[..n]].concat()).unwrap();
        // Wait for the client's FIN, then close: a clean FIN/FIN teardown.
        let _ = s.read(&mut buf);
    });
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"hello").unwrap();
    let mut buf = [0u8; 64];
    let n = c.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Echo: hello");
    drop(c);
    server.join().unwrap();

    let rx = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"ping 1", ("127.0.0.1", port)).unwrap();
    tx.send_to(b"ping 2", ("127.0.0.1", port)).unwrap();
    let mut b = [0u8; 16];
    rx.recv_from(&mut b).unwrap();
    rx.recv_from(&mut b).unwrap();

    // Noise: the same kinds of traffic on another port.
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"noise", other.local_addr().unwrap()).unwrap();
}

#[test]
fn capture_on_loopback_writes_exactly_the_filtered_packets() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lo.pcap");
    let port = free_tcp_port();
    let p = port.to_string();
    let mut cap = spawn_sister(
        "capture",
        &[
            "capture",
            "-i",
            "lo",
            "-w",
            file.to_str().unwrap(),
            "tcp",
            "port",
            &p,
            "or",
            "udp",
            "port",
            &p,
        ],
    );
    cap.wait_for_line("capturing on lo", Duration::from_secs(30));
    exchange(port);
    // Give the kernel a moment to queue the last frames before we stop.
    std::thread::sleep(Duration::from_millis(500));
    let status = cap
        .interrupt(Duration::from_secs(30))
        .expect("capture did not stop on Ctrl+C");
    let out = cap.output();
    assert!(status.success(), "{out}");
    assert!(out.contains("loopback duplicates skipped"), "{out}");
    assert!(out.contains("0 packets dropped by the kernel"), "{out}");

    let frames = tshark_fields(
        &file,
        None,
        &[
            "frame.number",
            "ip.src",
            "tcp.srcport",
            "tcp.dstport",
            "udp.srcport",
            "udp.dstport",
            "tcp.flags.str",
            "data.data",
            "tcp.payload",
        ],
    );
    // Nothing but our port.
    for f in &frames {
        assert!(f[2..6].contains(&p), "a frame not on port {p}: {f:?}");
    }
    // No duplicates: tshark's TCP analysis would flag a second copy as a retransmission or dup ACK.
    let dups = tshark_fields(
        &file,
        Some("tcp.analysis.retransmission or tcp.analysis.duplicate_ack"),
        &["frame.number"],
    );
    assert!(dups.is_empty(), "duplicates in the capture: {dups:?}\n{frames:?}");
    let syn = tshark_fields(
        &file,
        Some("tcp.flags.syn == 1 and tcp.flags.ack == 0"),
        &["frame.number"],
    );
    let synack = tshark_fields(
        &file,
        Some("tcp.flags.syn == 1 and tcp.flags.ack == 1"),
        &["frame.number"],
    );
    let fin = tshark_fields(&file, Some("tcp.flags.fin == 1"), &["frame.number"]);
    assert_eq!((syn.len(), synack.len(), fin.len()), (1, 1, 2), "{frames:?}");
    // The payloads, in order, exactly once each.
    let payloads = tshark_fields(&file, Some("tcp.len > 0 or udp"), &["tcp.payload", "udp.payload"]);
    let text: Vec<String> = payloads
        .iter()
        .map(|f| {
            let hex = f.iter().find(|x| !x.is_empty()).cloned().unwrap_or_default();
            let bytes: Vec<u8> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .collect();
    assert_eq!(text, ["hello", "Echo: hello", "ping 1", "ping 2"], "{frames:?}");
}

#[test]
fn capture_stops_after_count_and_decodes() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("count.pcap");
    let port = free_tcp_port();
    let p = port.to_string();
    let mut cap = spawn_sister(
        "capture",
        &[
            "capture",
            "-i",
            "lo",
            "-c",
            "2",
            "--decode",
            "-w",
            file.to_str().unwrap(),
            "udp",
            "dst",
            "port",
            &p,
        ],
    );
    cap.wait_for_line("capturing on lo", Duration::from_secs(30));
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..5 {
        tx.send_to(format!("datagram {i}").as_bytes(), ("127.0.0.1", port))
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = cap
        .wait_timeout(Duration::from_secs(30))
        .expect("-c 2 did not stop the capture");
    let out = cap.output();
    assert!(status.success(), "{out}");
    assert!(out.contains("datagram 0") && out.contains("datagram 1"), "{out}");
    assert!(!out.contains("datagram 2"), "{out}");
    // The live lines come from the analyzer's dissectors, and its report ends the capture.
    assert!(out.contains("UDP text 'datagram 0'"), "{out}");
    assert!(out.contains("Conversations") && out.contains("#1 UDP"), "{out}");
    let frames = tshark_fields(&file, None, &["udp.dstport"]);
    assert_eq!(frames, vec![vec![p.clone()], vec![p.clone()]]);
}

#[test]
fn capture_without_cap_net_raw_says_how_to_run_it() {
    // Drop to `nobody` with no capabilities at all, as a student without sudo would be.
    // `nobody` must be able to run the binary: the checkout may sit under a private home directory
    // (CI clones into one), so run a world-readable copy in /tmp.
    let bin = std::env::temp_dir().join(format!("sister-nobody-{}", std::process::id()));
    std::fs::copy(crate::util::sister_bin(), &bin).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    struct RemoveOnDrop(std::path::PathBuf);
    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _cleanup = RemoveOnDrop(bin.clone());
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .arg(&bin)
        .args(["capture", "-i", "lo", "-c", "1"])
        .output()
        .expect("setpriv (util-linux) must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("CAP_NET_RAW"), "{stderr}");
    assert!(
        stderr.contains("sudo")
            && stderr.contains("setcap cap_net_raw+ep")
            && stderr.contains("--cap-add NET_RAW"),
        "{stderr}"
    );
}

#[test]
fn bad_filter_points_at_the_token() {
    let out = sister(&["capture", "-i", "lo", "tcp", "and", "prot", "80"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("found `prot`"), "{stderr}");
    assert!(stderr.contains("tcp and prot 80\n          ^^^^"), "{stderr}");
}

#[test]
fn unknown_interface_is_explained() {
    let out = sister(&["capture", "-i", "nosuch0", "-c", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no interface named \"nosuch0\"") && stderr.contains("--list"),
        "{stderr}"
    );
}

#[test]
fn list_shows_loopback_with_its_address() {
    let out = sister(&["capture", "--list"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(" lo ") && l.contains("127.0.0.1/8")),
        "{stdout}"
    );
    assert!(stdout.contains("any"), "{stdout}");
}

/// Removes a Docker network when dropped, so a failing test leaves nothing behind.
struct DockerNetwork(String);

impl Drop for DockerNetwork {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["network", "rm", &self.0]).output();
    }
}

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn capture_finds_the_bridge_of_a_compose_project() {
    if !docker_answers() {
        eprintln!("SKIPPED capture_finds_the_bridge_of_a_compose_project: no Docker engine answers");
        return;
    }
    require_root();
    // A network as `docker compose -p <project> up` creates it (no image needed for a network).
    let project = format!("sistercap{}", std::process::id());
    let name = format!("{project}_default");
    let out = Command::new("docker")
        .args([
            "network",
            "create",
            "--label",
            &format!("com.docker.compose.project={project}"),
            &name,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _guard = DockerNetwork(name.clone());
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let bridge = format!("br-{}", &id[..12]);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bridge.pcap");
    let out = sister(&[
        "capture",
        "--compose",
        &project,
        "--duration",
        "1",
        "-w",
        file.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("Docker network {name} (")) && err.contains(&format!("is bridge {bridge}")),
        "{err}"
    );
    assert!(err.contains(&format!("capturing on {bridge}")), "{err}");
    // An empty but valid capture.
    assert!(tshark_fields(&file, None, &["frame.number"]).is_empty());

    let out = sister(&["capture", "--list"]).output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.lines().any(|l| l.contains(&bridge)
            && l.contains(&format!(
                "Docker bridge of network {name}, compose project {project}"
            ))),
        "{list}"
    );

    let out = sister(&["capture", "--network", "no-such-network-here", "-c", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no network \"no-such-network-here\""), "{err}");
}

#[test]
fn capture_writes_pcap_to_stdout_for_a_pipe() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("piped.pcap");
    let port = free_tcp_port().to_string();
    let mut child = sister(&["capture", "-i", "lo", "-w", "-", "-c", "3", "udp", "port", &port])
        .stdout(std::fs::File::create(&file).unwrap())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the socket is open: the capture says so on stderr.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("writing pcap to stdout"), "{line}");
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..3 {
        tx.send_to(
            format!("piped {i}").as_bytes(),
            ("127.0.0.1", port.parse::<u16>().unwrap()),
        )
        .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("-c 3 with -w - did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert_eq!(tshark_fields(&file, None, &["udp.dstport"]).len(), 3);
}

#[test]
fn lab_capture_writes_a_pcap_and_a_report_per_pattern() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let out = sister(&["lab", "--only", "udp", "--capture"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("captured") && stdout.contains("udp.pcap"),
        "{stdout}"
    );
    let pcap = dir.path().join("udp.pcap");
    // The lab's UDP exchange is in the capture, as tshark sees it.
    let udp = tshark_fields(&pcap, Some("udp"), &["udp.dstport"]);
    assert!(udp.len() >= 2, "{udp:?}");
    let md = std::fs::read_to_string(dir.path().join("udp.md")).unwrap();
    assert!(
        md.contains("## Capture analysis: udp.pcap") && md.contains("![Sequence diagram](udp.svg)"),
        "{md}"
    );
    assert!(md.contains("UDP"), "{md}");
    let svg = std::fs::read_to_string(dir.path().join("udp.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
}
