//! CORBA: sister's naming service, server and client against omniORB 4.2 (omniNames, and the C++
//! Hello server and client built from the course's IDL by `tests/peers/corba/build.sh`), in every
//! combination the issue names, plus hostile and absent peers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::util::corba::{init_ref, run_omniorb_client, start_omninames, start_omniorb_server};
use crate::util::{self, local, Proc};

const LONG: Duration = Duration::from_secs(60);
const GREETING: &str = "Hello from CORBA Server!";

/// `sister corba server` (with its own naming service) on a free port; its IOR.
fn sister_server(extra: &[&str]) -> (Proc, u16, String) {
    let (mut p, port) = util::start_sister_tcp_server("corba", extra);
    p.wait_for_line("Hello server ready", LONG);
    let ior = p
        .out_lines
        .iter()
        .find(|l| l.starts_with("IOR:"))
        .cloned()
        .unwrap_or_else(|| panic!("no IOR printed:\n{}", p.output()));
    (p, port, ior)
}

fn sister_naming() -> (Proc, u16) {
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let p = util::spawn_sister("sister corba naming", &["corba", "naming", "--bind", &bind]);
    util::wait_for_tcp(local(port), LONG);
    (p, port)
}

fn run_sister_client(args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["corba", "client"];
    all.extend_from_slice(args);
    let (status, out, err) = util::run_sister(&all, LONG);
    (status.success(), out, err)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn omniorb_client_against_sister_server_and_its_naming_service() {
    let (mut server, port, ior) = sister_server(&[]);
    let (status, out, err) = run_omniorb_client(&init_ref(port));
    assert!(
        status.success(),
        "hello_client failed:\n{out}\n{err}\n{}",
        server.output()
    );
    assert_eq!(out.trim(), GREETING);
    // The same object straight from its IOR (no naming service) and from a corbaloc URL.
    let (status, out, err) = run_omniorb_client(&[ior]);
    assert!(status.success() && out.trim() == GREETING, "{out}\n{err}");
    let (status, out, err) = run_omniorb_client(&[format!("corbaloc::127.0.0.1:{port}/Hello")]);
    assert!(status.success() && out.trim() == GREETING, "{out}\n{err}");
    // A name nobody bound: omniORB gets CosNaming's NotFound.
    let mut args = init_ref(port).to_vec();
    args.extend(strings(&["--name", "Nobody"]));
    let (status, out, err) = run_omniorb_client(&args);
    assert!(!status.success() && err.contains("NotFound"), "{out}\n{err}");
    // omniORB narrowed both the naming context and Hello: the server saw _is_a on both, and which
    // GIOP versions omniORB spoke (1.0 to corbaloc's NameService, 1.2 to the IOR's profile).
    server.wait_for_line("NameService.resolve_str: NO_EXCEPTION", LONG);
    server.wait_for_line("Hello._is_a: NO_EXCEPTION", LONG);
    server.wait_for_line("Hello.sayHello: NO_EXCEPTION", LONG);
    server.wait_for_line(
        "USER_EXCEPTION IDL:omg.org/CosNaming/NamingContext/NotFound:1.0",
        LONG,
    );
}

#[test]
fn sister_client_against_omniorb_server_registered_in_omninames() {
    let (_names, naming_port, _logs) = start_omninames();
    let (mut server, ior, _) = start_omniorb_server(naming_port);
    let naming = format!("127.0.0.1:{naming_port}");
    let (ok, out, err) = run_sister_client(&["--naming", &naming]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(out.trim(), GREETING);
    assert!(err.contains("resolved Hello in the Naming Service"), "{err}");
    server.wait_for_line("sayHello called", LONG);
    // Every GIOP version, big-endian too: omniORB reads them all and answers in kind.
    for flags in [["--giop", "1.0"], ["--giop", "1.1"], ["--big-endian", "-n"]] {
        let mut args = vec!["--naming", naming.as_str()];
        args.extend_from_slice(&flags);
        if flags[1] == "-n" {
            args.push("3");
        }
        let (ok, out, err) = run_sister_client(&args);
        assert!(ok && out.contains(GREETING), "{flags:?}:\n{out}\n{err}");
    }
    // The omniORB server's own IOR (a binary POA key), and corbaname through omniNames.
    let (ok, out, err) = run_sister_client(&["--ior", &ior]);
    assert!(ok && out.trim() == GREETING, "{out}\n{err}");
    let corbaname = format!("corbaname::127.0.0.1:{naming_port}#Hello");
    let (ok, out, err) = run_sister_client(&["--ior", &corbaname]);
    assert!(ok && out.trim() == GREETING, "{out}\n{err}");
    // NotFound from omniNames, in sister's words.
    let (ok, _, err) = run_sister_client(&["--naming", &naming, "--name", "Nobody"]);
    assert!(
        !ok && err.contains("`Nobody` is not bound") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn omniorb_server_and_client_meet_in_sisters_naming_service() {
    let (mut naming, naming_port) = sister_naming();
    let (mut server, _ior, _) = start_omniorb_server(naming_port);
    let (status, out, err) = run_omniorb_client(&init_ref(naming_port));
    assert!(status.success(), "{out}\n{err}\n{}", naming.output());
    assert_eq!(out.trim(), GREETING);
    server.wait_for_line("sayHello called", LONG);
    naming.wait_for_line("NameService.rebind: NO_EXCEPTION", LONG);
    naming.wait_for_line("NameService.resolve_str: NO_EXCEPTION", LONG);
    // sister's client finds the omniORB server there too.
    let (ok, out, err) = run_sister_client(&["--naming", &format!("127.0.0.1:{naming_port}")]);
    assert!(ok && out.trim() == GREETING, "{out}\n{err}");
}

#[test]
fn sister_server_registers_in_omninames_for_an_omniorb_client() {
    let (_names, naming_port, _logs) = start_omninames();
    let naming = format!("127.0.0.1:{naming_port}");
    let (mut server, _port, _ior) = sister_server(&["--naming", &naming]);
    server.wait_for_line(&format!("bound `Hello` in the Naming Service at {naming}"), LONG);
    let (status, out, err) = run_omniorb_client(&init_ref(naming_port));
    assert!(
        status.success() && out.trim() == GREETING,
        "{out}\n{err}\n{}",
        server.output()
    );
    let (ok, out, err) = run_sister_client(&["--naming", &naming]);
    assert!(ok && out.trim() == GREETING, "{out}\n{err}");
}

#[test]
fn clear_errors_for_a_dead_server_a_wrong_port_and_a_bad_reference() {
    // A name bound to a server that has gone: the IOR's address refuses the connection.
    let (_naming, naming_port) = sister_naming();
    let naming = format!("127.0.0.1:{naming_port}");
    let (mut server, port, ior) = sister_server(&["--naming", &naming]);
    server.interrupt(LONG);
    let (ok, _, err) = run_sister_client(&["--naming", &naming]);
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("Is the server running?"),
        "{err}"
    );
    let (ok, _, err) = run_sister_client(&["--ior", &ior]);
    assert!(!ok && err.contains("Is the server running?"), "{err}");
    // Nothing listens at the naming service.
    let (ok, _, err) = run_sister_client(&["--naming", &format!("127.0.0.1:{}", util::free_tcp_port())]);
    assert!(!ok && err.contains("cannot connect"), "{err}");
    // Something that is not CORBA (it answers with HTTP).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut b = [0u8; 64];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let (ok, _, err) = run_sister_client(&["--naming", &http.to_string()]);
    assert!(
        !ok && err.contains("does not speak GIOP") && err.contains("HTTP"),
        "{err}"
    );
    t.join().unwrap();
    for bad in ["IOR:0102", "corbaloc::", "http://x/y", "IOR:zz"] {
        let (ok, _, err) = run_sister_client(&["--ior", bad]);
        assert!(
            !ok && err.starts_with("error:") && !err.contains("panicked"),
            "{bad}: {err}"
        );
    }
    let (ok, _, err) = run_sister_client(&["--naming", &naming, "--giop", "2.0"]);
    assert!(!ok && err.contains("1.0, 1.1 or 1.2"), "{err}");
}

#[test]
fn garbage_gets_message_error_and_ctrl_c_sends_close_connection() {
    let (mut server, port, _) = sister_server(&[]);
    // A GIOP header whose version is 9.9: MessageError, then the server closes that connection.
    let mut bad = TcpStream::connect(local(port)).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    bad.write_all(b"GIOP\x09\x09\x01\x00\x00\x00\x00\x00").unwrap();
    let mut got = Vec::new();
    bad.read_to_end(&mut got).unwrap();
    assert_eq!(&got[..4], b"GIOP");
    assert_eq!(got[7], 6, "message type 6 is MessageError: {got:02x?}");
    server.wait_for_line("malformed GIOP message", LONG);
    // Others are served as before.
    let (ok, out, err) = run_sister_client(&["--naming", &format!("127.0.0.1:{port}")]);
    assert!(ok && out.trim() == GREETING, "{out}\n{err}");
    // A client that stays connected gets CloseConnection when the server stops.
    let mut idle = TcpStream::connect(local(port)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let status = server.interrupt(LONG).expect("the server stops on Ctrl+C");
    assert!(status.success(), "{}", server.output());
    let mut got = Vec::new();
    idle.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), 12, "{got:02x?}");
    assert_eq!(
        (&got[..4], got[7]),
        (&b"GIOP"[..], 5),
        "CloseConnection: {got:02x?}"
    );
}
