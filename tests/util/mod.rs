//! Helpers shared by the end-to-end tests: run the sister binary and the Python peers, find free ports,
//! wait for a server to listen, and never leave a process behind.
#![allow(dead_code)]

pub mod browser;
pub mod corba;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The sister binary under test: `$SISTER_BIN` (set by .ci/run to the release build) or cargo's.
pub fn sister_bin() -> PathBuf {
    std::env::var_os("SISTER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sister")))
}

/// The repository root (for `tests/peers/...` and `testdata/...`).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port that was free a moment ago on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped, with its output collected in the background.
pub struct Proc {
    pub child: Child,
    name: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    pub out_lines: Vec<String>,
    pub err_lines: Vec<String>,
}

impl Proc {
    /// Start `cmd` with piped stdout/stderr (stdin piped too, so tests can type into it).
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Proc {
            child,
            name: name.to_string(),
            stdout,
            stderr,
            out_lines: vec![],
            err_lines: vec![],
        }
    }

    fn drain(&mut self) {
        while let Ok(l) = self.stdout.try_recv() {
            self.out_lines.push(l);
        }
        while let Ok(l) = self.stderr.try_recv() {
            self.err_lines.push(l);
        }
    }

    /// Wait until a line of stdout or stderr contains `needle`; panics with the output after `timeout`.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain();
            let found = self
                .out_lines
                .iter()
                .chain(self.err_lines.iter())
                .find(|l| l.contains(needle))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            if Instant::now() > deadline {
                let out = self.output();
                panic!(
                    "{}: no line containing {needle:?} within {timeout:?}\n{out}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the process printed so far (stdout then stderr).
    pub fn output(&mut self) -> String {
        self.drain();
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.out_lines.join("\n"),
            self.err_lines.join("\n")
        )
    }

    /// After the process exited: collect every line it wrote, waiting (up to 10 s) until both pipes are
    /// closed, so no late line is missed under load.
    pub fn collect_all(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for (rx, lines) in [
            (&self.stdout, &mut self.out_lines),
            (&self.stderr, &mut self.err_lines),
        ] {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(l) => lines.push(l),
                    Err(_) => break,
                }
            }
        }
    }

    /// Stdout lines so far.
    pub fn stdout_lines(&mut self) -> Vec<String> {
        self.drain();
        self.out_lines.clone()
    }

    /// Send SIGINT (as Ctrl+C does) and wait up to `timeout` for the exit status.
    pub fn interrupt(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        self.wait_timeout(timeout)
    }

    /// Wait for the process to exit on its own.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                self.drain();
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

/// A `Command` for the sister binary with `args`.
pub fn sister(args: &[&str]) -> Command {
    let mut cmd = Command::new(sister_bin());
    cmd.args(args).env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// Start sister with `args` and keep it running for the test.
pub fn spawn_sister(name: &str, args: &[&str]) -> Proc {
    Proc::spawn(name, sister(args))
}

/// A `Command` running `python3` with `args`; panics with advice if `module` cannot be imported.
pub fn python(module: Option<&str>, args: &[&str]) -> Command {
    if let Some(m) = module {
        let ok = Command::new("python3")
            .args(["-c", &format!("import {m}")])
            .status()
            .map(|s| s.success());
        assert!(
            matches!(ok, Ok(true)),
            "the Python module `{m}` is missing: run ./.ci/run (it installs the test peers)"
        );
    }
    let mut cmd = Command::new("python3");
    cmd.args(args).env("PYTHONUNBUFFERED", "1");
    cmd
}

/// Wait until something accepts TCP connections on `addr`.
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {addr} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `127.0.0.1:port` as a `SocketAddr`.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The path of one of the course's programs in `tests/peers/course/`.
pub fn course_peer(file: &str) -> String {
    repo()
        .join("tests/peers/course")
        .join(file)
        .to_string_lossy()
        .into_owned()
}

/// Start one of the course's Python programs with `args` (after the script path).
pub fn spawn_course(name: &str, file: &str, args: &[&str]) -> Proc {
    let script = course_peer(file);
    let mut all = vec![script.as_str()];
    all.extend_from_slice(args);
    Proc::spawn(name, python(None, &all))
}

/// Start `sister <pattern> server --bind 127.0.0.1:<free port>` (plus `extra` flags) and wait until it
/// accepts connections. Returns the process and the port.
pub fn start_sister_tcp_server(pattern: &str, extra: &[&str]) -> (Proc, u16) {
    let port = free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec![pattern, "server", "--bind", bind.as_str()];
    args.extend_from_slice(extra);
    let p = spawn_sister(&format!("{pattern}-server"), &args);
    wait_for_tcp(local(port), Duration::from_secs(20));
    (p, port)
}

/// Run a command to completion with `stdin` as its input; returns (status, stdout, stderr).
pub fn run_with_input(
    mut cmd: Command,
    stdin: &str,
    timeout: Duration,
) -> (std::process::ExitStatus, String, String) {
    use std::io::Write;
    let mut p = Proc::spawn("command", {
        cmd.env("NO_COLOR", "1");
        cmd
    });
    if let Some(mut input) = p.child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let status = p
        .wait_timeout(timeout)
        .unwrap_or_else(|| panic!("command did not finish within {timeout:?}\n{}", p.output()));
    p.collect_all();
    let out = p.out_lines.join("\n");
    let err = p.err_lines.join("\n");
    (status, out, err)
}

/// Run sister with `args` to completion (stdin closed at once).
pub fn run_sister(args: &[&str], timeout: Duration) -> (std::process::ExitStatus, String, String) {
    run_with_input(sister(args), "", timeout)
}

/// Start `sister <pattern> server --bind 127.0.0.1:<free port>` and wait until it listens.
pub fn sister_server(pattern: &str) -> (Proc, u16) {
    let port = free_tcp_port();
    let mut p = spawn_sister(
        &format!("sister {pattern} server"),
        &[pattern, "server", "--bind", &format!("127.0.0.1:{port}")],
    );
    p.wait_for_line("listening", Duration::from_secs(30));
    (p, port)
}

/// Start a Python peer server `script` (relative to the repository) that takes its port as its only
/// argument and needs `module`, and wait until it accepts connections.
pub fn python_server(name: &str, module: &str, script: &str) -> (Proc, u16) {
    let port = free_tcp_port();
    let script = repo().join(script);
    let p = Proc::spawn(
        name,
        python(Some(module), &[script.to_str().unwrap(), &port.to_string()]),
    );
    wait_for_tcp(local(port), Duration::from_secs(30));
    (p, port)
}

/// A `Command` running the *system* Python (`/usr/bin/python3`) with `args`: Debian's ZeroC Ice
/// (`python3-zeroc-ice`) is built for it, not for a pyenv or venv `python3` earlier on the PATH.
/// Panics with advice when `import Ice` fails.
pub fn system_python_ice(args: &[&str]) -> Command {
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let ok = Command::new(python)
        .args(["-c", "import Ice"])
        .status()
        .map(|s| s.success());
    assert!(
        matches!(ok, Ok(true)),
        "ZeroC Ice for Python is missing ({python} cannot `import Ice`): run ./.ci/run (it installs python3-zeroc-ice)"
    );
    let mut cmd = Command::new(python);
    cmd.args(args).env("PYTHONUNBUFFERED", "1");
    cmd
}

/// The body of `GET url` (plain HTTP/1.1 on loopback, `Connection: close`); panics unless 200.
pub fn http_get(url: &str) -> String {
    match try_http_get(url) {
        Ok(body) => body,
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// [`http_get`], or why not (cannot connect, not 200), for a server that may still be starting.
pub fn try_http_get(url: &str) -> Result<String, String> {
    use std::io::Write;
    let rest = url.strip_prefix("http://").ok_or("not an http:// URL")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{head} {body}"));
    }
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // Join the chunks (axum streams some bodies).
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || after.len() < n {
                break;
            }
            out.push_str(&after[..n]);
            rest = after.get(n + 2..).unwrap_or("");
        }
        return Ok(out);
    }
    Ok(body.to_string())
}

/// `sister web` with `args` on a free loopback port, once it says its URL; its address
/// (`127.0.0.1:PORT`). The topic tree's tests start theirs with `--broker` (tests/web_topics.rs).
pub fn start_web(args: &[&str]) -> (Proc, String) {
    let port = free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut all = vec!["web", "--bind", bind.as_str()];
    all.extend_from_slice(args);
    let mut p = spawn_sister("sister web", &all);
    p.wait_for_line("open http://", std::time::Duration::from_secs(60));
    (p, bind)
}
