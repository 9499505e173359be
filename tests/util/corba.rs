//! omniORB 4.2 peers for the CORBA tests: omniNames, and the C++ Hello server and client built from
//! the course's IDL (`tests/peers/corba/`, compiled once per test run into `target/corba-peers`).
//!
//! Every omniORB program runs with `OMNIORB_CONFIG` pointing at an empty file, so a machine's
//! `/etc/omniORB.cfg` (Debian's names an InitRef for a NameService on localhost) cannot send a test
//! to the wrong naming service; the tests pass `-ORBInitRef NameService=corbaloc::...` instead.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::Duration;

use super::{free_tcp_port, local, repo, run_with_input, wait_for_tcp, Proc};

/// Builds the C++ peers (once per test process) and returns their directory.
pub fn omniorb_peers() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo().join("target/corba-peers");
        for tool in ["omniidl", "g++", "omniNames"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            assert!(
                found,
                "{tool} is missing: run ./.ci/run (it installs omniorb-nameserver, omniidl, libomniorb4-dev and g++)"
            );
        }
        let out = Command::new(repo().join("tests/peers/corba/build.sh"))
            .arg(&dir)
            .output()
            .expect("cannot run tests/peers/corba/build.sh");
        assert!(
            out.status.success(),
            "building the omniORB peers failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.join("empty-omniORB.cfg"), "").expect("cannot write the empty omniORB config");
        dir
    })
}

/// A Command for an omniORB program, with an empty configuration.
pub fn omniorb_cmd(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("OMNIORB_CONFIG", omniorb_peers().join("empty-omniORB.cfg"));
    cmd
}

/// `-ORBInitRef NameService=corbaloc::127.0.0.1:PORT/NameService`.
pub fn init_ref(naming_port: u16) -> [String; 2] {
    [
        "-ORBInitRef".into(),
        format!("NameService=corbaloc::127.0.0.1:{naming_port}/NameService"),
    ]
}

/// omniNames on a free loopback port, with its log in a temporary directory (kept alive by the
/// returned guard).
pub fn start_omninames() -> (Proc, u16, tempfile::TempDir) {
    let port = free_tcp_port();
    let logdir = tempfile::tempdir().unwrap();
    let mut cmd = omniorb_cmd("omniNames");
    cmd.args(["-start", &port.to_string(), "-logdir"])
        .arg(logdir.path())
        .args(["-ORBendPoint", &format!("giop:tcp:127.0.0.1:{port}")]);
    let p = Proc::spawn("omniNames", cmd);
    wait_for_tcp(local(port), Duration::from_secs(20));
    (p, port, logdir)
}

/// The omniORB C++ Hello server, registered as `Hello` in the naming service on `naming_port`.
/// Returns it, its IOR and its port.
pub fn start_omniorb_server(naming_port: u16) -> (Proc, String, u16) {
    let port = free_tcp_port();
    let mut cmd = omniorb_cmd(omniorb_peers().join("hello_server"));
    cmd.args(init_ref(naming_port))
        .args(["-ORBendPoint", &format!("giop:tcp:127.0.0.1:{port}")]);
    let mut p = Proc::spawn("omniORB hello_server", cmd);
    p.wait_for_line("Hello server ready", Duration::from_secs(20));
    let ior = p
        .out_lines
        .iter()
        .find(|l| l.starts_with("IOR:"))
        .cloned()
        .unwrap_or_else(|| panic!("hello_server printed no IOR:\n{}", p.output()));
    (p, ior, port)
}

/// Runs the omniORB C++ client with `args` (an IOR, `--name N`, `-n N`, -ORB options).
pub fn run_omniorb_client(args: &[String]) -> (ExitStatus, String, String) {
    let mut cmd = omniorb_cmd(omniorb_peers().join("hello_client"));
    cmd.args(args);
    run_with_input(cmd, "", Duration::from_secs(30))
}
