//! `sister lab --docker`: the worksheet as the course runs it, in containers on a Docker bridge.
//!
//! For each pattern with a compose file (`compose/<pattern>.yml`) this does what the worksheet asks of
//! a student, in order:
//! 1. `docker compose -f compose/<pattern>.yml up -d` (servers run, client containers idle);
//! 2. `sister capture --network sister-<pattern> -w <out>/<pattern>.pcap` on the project's bridge
//!    (what `tcpdump -i br-…` does; needs root or CAP_NET_RAW, otherwise the lab runs without captures);
//! 3. `docker compose exec <client> sister …` with the worksheet's inputs, checking what the client prints;
//! 4. stops the capture and runs `sister analyze` on it (text and Markdown, with container names), checking
//!    that the report names the containers and the port;
//! 5. `docker compose down`, leaving no container or network behind.
//!
//! Everything is driven through the `docker` CLI, as a student would type it, and the `sister` binary
//! itself (`exe`: the capture and the analysis run as the student runs them, as separate processes).
//! The CLI (`src/cmd/lab.rs`) only turns flags into a [`DockerLab`] and [`run`]'s verdict into an exit
//! status. Errors here are sentences for the terminal, never matched on, hence `anyhow`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::Command;

/// One client step: run `sister ARGS…` in a client container and look for `expect` in its output.
struct Step {
    service: &'static str,
    args: &'static [&'static str],
    expect: &'static str,
    /// Started in the background (a subscriber), awaited after the following steps.
    background: bool,
}

/// One pattern of the containerised lab.
struct DockerPattern {
    name: &'static str,
    steps: &'static [Step],
    /// Text the analysis report must contain (container names, the port, a protocol detail).
    report_mentions: &'static [&'static str],
}

const fn step(service: &'static str, args: &'static [&'static str], expect: &'static str) -> Step {
    Step {
        service,
        args,
        expect,
        background: false,
    }
}

const PATTERNS: &[DockerPattern] = &[
    DockerPattern {
        name: "mqtt",
        steps: &[
            Step {
                service: "mqtt-sub",
                args: &["mqtt", "sub", "-C", "3", "--wait", "20"],
                expect: "Received message: Suhu: 28°C (Topic: sister/temp)",
                background: true,
            },
            step(
                "mqtt-pub",
                &["mqtt", "pub", "--count", "3", "--interval", "0.5", "--wait", "20"],
                "published",
            ),
        ],
        report_mentions: &["mqtt-broker", "mqtt-pub", "mqtt-sub", "1883", "sister/temp"],
    },
    DockerPattern {
        // The same exchange over TLS with a password (compose/mqtt-tls.yml): the report must show
        // the TLS conversation on 8883 and the server name, and cannot show the topic.
        name: "mqtt-tls",
        steps: &[
            Step {
                service: "mqtt-sub",
                args: &[
                    "mqtt",
                    "sub",
                    "-C",
                    "3",
                    "--wait",
                    "20",
                    "--cafile",
                    "/lab-ca/ca.crt",
                    "-u",
                    "mahasiswa",
                    "-P",
                    "sister-lab",
                ],
                expect: "Received message: Suhu: 28°C (Topic: sister/temp)",
                background: true,
            },
            step(
                "mqtt-pub",
                &[
                    "mqtt",
                    "pub",
                    "--count",
                    "3",
                    "--interval",
                    "0.5",
                    "--wait",
                    "20",
                    "--cafile",
                    "/lab-ca/ca.crt",
                    "-u",
                    "mahasiswa",
                    "-P",
                    "sister-lab",
                ],
                "published",
            ),
        ],
        report_mentions: &[
            "mqtt-broker",
            "mqtt-pub",
            "mqtt-sub",
            "8883",
            "TLS",
            "`mqtt-broker`",
        ],
    },
    DockerPattern {
        name: "reqresp",
        steps: &[step(
            "reqresp-client",
            &[
                "reqresp",
                "client",
                "--wait",
                "20",
                "-m",
                "hello",
                "-m",
                "distributed",
                "-m",
                "systems",
                "-m",
                "bye",
            ],
            "Echo: systems",
        )],
        report_mentions: &["reqresp-server", "reqresp-client", "2222", "Echo: hello"],
    },
    DockerPattern {
        name: "upcall",
        steps: &[step(
            "upcall-client",
            &["upcall", "client", "--wait", "20", "-m", "hello", "-m", "bye"],
            "Upcall event: Processing hello",
        )],
        report_mentions: &["upcall-server", "upcall-client", "4141"],
    },
    DockerPattern {
        name: "udp",
        steps: &[step(
            "udp-client",
            &["udp", "client"],
            "You said: Hello, UDP server2!",
        )],
        report_mentions: &["udp-server", "udp-client", "12345"],
    },
    DockerPattern {
        name: "rest",
        steps: &[step(
            "rest-client",
            &[
                "rest", "client", "--wait", "20", "--op", "both", "-a", "10", "-b", "5",
            ],
            "add(10,5) = 15",
        )],
        report_mentions: &["rest-server", "rest-client", "5151", "/add"],
    },
    DockerPattern {
        name: "rpc",
        steps: &[step(
            "rpc-client",
            &["rpc", "client", "--wait", "20", "add", "10", "2"],
            "Result of add: 12",
        )],
        report_mentions: &["rpc-server", "rpc-client", "4000", "add"],
    },
    DockerPattern {
        name: "soap",
        steps: &[step(
            "soap-client",
            &["soap", "client", "--wait", "20", "add", "10", "5"],
            "Hasil penjumlahan dari server SOAP: 15",
        )],
        report_mentions: &["soap-server", "soap-client", "8000", "add"],
    },
    DockerPattern {
        name: "zmq",
        steps: &[
            step("zmq-req", &["zmq", "req", "--count", "2"], "World"),
            step("zmq-sub", &["zmq", "sub", "--count", "1"], "WAKTU"),
        ],
        report_mentions: &["zmq-rep", "zmq-req", "5555", "zmq-sub"],
    },
    DockerPattern {
        name: "ice",
        steps: &[step(
            "ice-client",
            &["ice", "client", "--wait", "20"],
            "SimplePrinter2.printString(\"Hello World from printer2!\"): ok",
        )],
        report_mentions: &[
            "ice-server",
            "ice-client",
            "11000",
            "ValidateConnection",
            "ice_isA",
            "printString",
            "CloseConnection",
        ],
    },
    DockerPattern {
        name: "corba",
        steps: &[step(
            "corba-client",
            &["corba", "client", "--wait", "20"],
            "Hello from CORBA Server!",
        )],
        report_mentions: &[
            "corba-server",
            "corba-client",
            "2809",
            "resolve_str",
            "sayHello",
            "Hello from CORBA Server!",
        ],
    },
];

/// What a pattern's report must NOT contain: over TLS the topic and the password are encrypted, so a
/// report that shows them read something it should not have been able to.
const HIDDEN: &[(&str, &[&str])] = &[("mqtt-tls", &["sister/temp", "sister-lab", "Suhu"])];

/// Names of the patterns `--docker` knows, for `--only` and the help text.
pub fn pattern_names() -> Vec<&'static str> {
    PATTERNS.iter().map(|p| p.name).collect()
}

/// Options of the containerised lab.
pub struct DockerLab {
    pub image: String,
    pub out: PathBuf,
    pub only: Vec<String>,
    pub keep_going: bool,
}

/// `docker compose` (v2 plugin) when it answers, else Debian's `docker-compose` (v1).
async fn compose_command() -> anyhow::Result<Vec<String>> {
    let v2 = Command::new("docker")
        .args(["compose", "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if matches!(v2, Ok(s) if s.success()) {
        return Ok(vec!["docker".into(), "compose".into()]);
    }
    let v1 = Command::new("docker-compose")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if matches!(v1, Ok(s) if s.success()) {
        return Ok(vec!["docker-compose".into()]);
    }
    bail!("neither `docker compose` nor `docker-compose` is installed")
}

/// The repository's `compose/` folder: next to the current directory, or SISTER_COMPOSE_DIR.
fn compose_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("SISTER_COMPOSE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("compose"));
    if !dir.join("mqtt.yml").is_file() {
        bail!(
            "cannot find the compose files in {}: run from the repository root or set SISTER_COMPOSE_DIR",
            dir.display()
        );
    }
    Ok(dir)
}

struct Project {
    compose: Vec<String>,
    file: PathBuf,
    name: String,
    image: String,
}

impl Project {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.compose[0]);
        cmd.args(&self.compose[1..])
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .env("SISTER_IMAGE", &self.image)
            // Publish the servers on free host ports: the lab must not collide with anything on the host.
            .env("PUBLISH_PORT", "0")
            .stdin(Stdio::null());
        cmd
    }

    async fn run(&self, args: &[&str], timeout: Duration) -> anyhow::Result<std::process::Output> {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(out) => Ok(out?),
            Err(_) => bail!(
                "`{} {}` did not finish within {timeout:?}",
                self.compose.join(" "),
                args.join(" ")
            ),
        }
    }

    async fn down(&self) {
        let _ = self
            // -v: the volumes too (compose/mqtt-tls.yml's lab CA and password file).
            .run(
                &["down", "-v", "--remove-orphans", "-t", "2"],
                Duration::from_secs(60),
            )
            .await;
    }
}

/// The outcome of one pattern.
struct Outcome {
    name: &'static str,
    problems: Vec<String>,
    captured: Option<PathBuf>,
}

/// Run the containerised lab; `Ok(true)` when every pattern passed, `Ok(false)` when one failed (the
/// summary printed says which and why), `Err` when the lab could not run at all (no Docker, no image).
pub async fn run(lab: DockerLab) -> anyhow::Result<bool> {
    let docker = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .await;
    match docker {
        Ok(out) if out.status.success() => {}
        _ => bail!("no Docker engine answers (`docker info` failed): start Docker, or run `sister lab` without --docker"),
    }
    let compose = compose_command().await?;
    let dir = compose_dir()?;
    let image_ok = Command::new("docker")
        .args(["image", "inspect", &lab.image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await?;
    if !image_ok.success() {
        bail!(
            "the image {} does not exist: build it with docker/build.sh",
            lab.image
        );
    }
    std::fs::create_dir_all(&lab.out).with_context(|| format!("cannot create {}", lab.out.display()))?;
    let can_capture = nix_is_root();
    if !can_capture {
        eprintln!("note: not root, so no capture on the bridges (sister capture needs CAP_NET_RAW); the clients still run");
    }
    let exe = std::env::current_exe().context("cannot find the sister binary itself")?;

    let mut outcomes = Vec::new();
    for pattern in PATTERNS
        .iter()
        .filter(|p| lab.only.is_empty() || lab.only.iter().any(|o| o == p.name))
    {
        println!("\n== {} (compose/{}.yml) ==", pattern.name, pattern.name);
        let project = Project {
            compose: compose.clone(),
            file: dir.join(format!("{}.yml", pattern.name)),
            name: format!("sister-lab-{}", pattern.name),
            image: lab.image.clone(),
        };
        let outcome = run_pattern(pattern, &project, &exe, &lab.out, can_capture).await;
        project.down().await;
        let failed = !outcome.problems.is_empty();
        outcomes.push(outcome);
        if failed && !lab.keep_going {
            break;
        }
    }

    println!("\n== summary ==");
    let mut all_ok = !outcomes.is_empty();
    for o in &outcomes {
        if o.problems.is_empty() {
            let cap = o
                .captured
                .as_ref()
                .map(|p| format!("  capture: {}", p.display()))
                .unwrap_or_default();
            println!("  PASS {:<8}{cap}", o.name);
        } else {
            all_ok = false;
            println!("  FAIL {:<8}", o.name);
            for p in &o.problems {
                println!("       - {p}");
            }
        }
    }
    Ok(all_ok)
}

async fn run_pattern(
    pattern: &DockerPattern,
    project: &Project,
    exe: &Path,
    out: &Path,
    can_capture: bool,
) -> Outcome {
    let mut problems = Vec::new();
    let outcome = |problems: Vec<String>, captured| Outcome {
        name: pattern.name,
        problems,
        captured,
    };

    match project.run(&["up", "-d"], Duration::from_secs(120)).await {
        Ok(o) if o.status.success() => println!("  up: {}", project.name),
        Ok(o) => {
            return outcome(
                vec![format!(
                    "compose up failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )],
                None,
            );
        }
        Err(e) => return outcome(vec![format!("compose up failed: {e}")], None),
    }

    // The capture, on the project's bridge, before any client speaks.
    let pcap = out.join(format!("{}.pcap", pattern.name));
    let mut capture = None;
    if can_capture {
        let network = format!("sister-{}", pattern.name);
        match Command::new(exe)
            .args(["-q", "capture", "--network", &network, "-w"])
            .arg(&pcap)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(mut child) => match wait_until_capturing(&mut child).await {
                Ok(log) => capture = Some((child, log)),
                Err(e) => problems.push(e),
            },
            Err(e) => problems.push(format!("cannot start the capture: {e}")),
        }
    }

    let mut background = Vec::new();
    for step in pattern.steps {
        let mut args = vec!["exec", "-T", step.service, "sister"];
        args.extend_from_slice(step.args);
        println!(
            "  $ {} exec {} sister {}",
            project.compose.join(" "),
            step.service,
            step.args.join(" ")
        );
        if step.background {
            let child = project
                .command(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn();
            match child {
                Ok(c) => background.push((step, c)),
                Err(e) => problems.push(format!("{}: cannot exec: {e}", step.service)),
            }
            // Let a subscriber subscribe before the publisher starts.
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        match project.run(&args, Duration::from_secs(60)).await {
            Ok(o) => check_step(step, &o, &mut problems),
            Err(e) => problems.push(format!("{}: {e}", step.service)),
        }
    }
    for (step, child) in background {
        match tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await {
            Ok(Ok(o)) => check_step(step, &o, &mut problems),
            Ok(Err(e)) => problems.push(format!("{}: {e}", step.service)),
            Err(_) => problems.push(format!("{}: did not finish within 60 s", step.service)),
        }
    }

    let Some((mut child, log)) = capture else {
        return outcome(problems, None);
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .await;
    }
    match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => {
            let err = log.await.unwrap_or_default();
            problems.push(format!("the capture ended with {status}: {}", last_line(&err)));
            return outcome(problems, None);
        }
        _ => {
            problems.push("the capture did not stop on Ctrl+C".into());
            return outcome(problems, None);
        }
    }

    // The analysis, while the containers still exist (so Docker can name their addresses): the text
    // report on the terminal and in <pattern>.txt, the Markdown findings (with the sequence diagram
    // <pattern>.svg beside them) in <pattern>.md.
    let text_report = out.join(format!("{}.txt", pattern.name));
    match Command::new(exe)
        .args(["-q", "analyze"])
        .arg(&pcap)
        .output()
        .await
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            if let Err(e) = std::fs::write(&text_report, &text) {
                problems.push(format!("cannot write {}: {e}", text_report.display()));
            }
            print_excerpt(&text);
        }
        Ok(o) => problems.push(format!(
            "sister analyze failed: {}",
            last_line(&String::from_utf8_lossy(&o.stderr))
        )),
        Err(e) => problems.push(format!("cannot run sister analyze: {e}")),
    }
    let md_report = out.join(format!("{}.md", pattern.name));
    match Command::new(exe)
        .args(["-q", "analyze", "--format", "md", "-o"])
        .arg(&md_report)
        .arg(&pcap)
        .output()
        .await
    {
        Ok(o) if o.status.success() => {
            let md = std::fs::read_to_string(&md_report).unwrap_or_default();
            // The Markdown report names hosts by their containers: `mqtt-sub (172.18.0.4)`.
            for needle in pattern.report_mentions {
                if !md.contains(needle) {
                    problems.push(format!(
                        "the report {} does not mention {needle:?}",
                        md_report.display()
                    ));
                }
            }
            let hidden = HIDDEN
                .iter()
                .filter(|(p, _)| *p == pattern.name)
                .flat_map(|(_, h)| h.iter());
            for needle in hidden {
                if md.contains(needle) {
                    problems.push(format!(
                        "the report {} shows {needle:?}, which TLS should have hidden",
                        md_report.display()
                    ));
                }
            }
        }
        Ok(o) => problems.push(format!(
            "sister analyze --format md failed: {}",
            last_line(&String::from_utf8_lossy(&o.stderr))
        )),
        Err(e) => problems.push(format!("cannot run sister analyze: {e}")),
    }
    outcome(problems, Some(pcap))
}

/// Read the capture's stderr until it says it is capturing (the raw socket is open), then keep draining
/// it in the background so the child never blocks on a full pipe. Returns the task that collects the rest.
async fn wait_until_capturing(
    child: &mut tokio::process::Child,
) -> Result<tokio::task::JoinHandle<String>, String> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let Some(stderr) = child.stderr.take() else {
        return Err("the capture has no stderr".into());
    };
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let started = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with("capturing on") {
                return true;
            }
        }
        false
    })
    .await;
    if started != Ok(true) {
        return Err(format!("the capture did not start: {}", last_line(&seen)));
    }
    Ok(tokio::spawn(async move {
        let mut rest = seen;
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    }))
}

fn check_step(step: &Step, out: &std::process::Output, problems: &mut Vec<String>) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stdout.lines().take(12) {
        println!("    {} | {line}", step.service);
    }
    if !out.status.success() {
        problems.push(format!(
            "{} exited with {}: {}",
            step.service,
            out.status,
            last_line(&stderr)
        ));
    } else if !stdout.contains(step.expect) && !stderr.contains(step.expect) {
        problems.push(format!("{} never printed {:?}", step.service, step.expect));
    }
}

fn last_line(s: &str) -> &str {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

/// The report's first lines, so the transcript shows what the analyzer found.
fn print_excerpt(text: &str) {
    for line in text.lines().take(25) {
        println!("    analyze | {line}");
    }
}

/// Root (or a process that may open raw sockets as root does): the capture can run.
fn nix_is_root() -> bool {
    // /proc/self/status "Uid:" real effective saved fs; no unsafe getuid() needed.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
