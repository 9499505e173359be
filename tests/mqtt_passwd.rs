//! Password files as Mosquitto writes and reads them, and `sister mqtt passwd`, against the real
//! thing: Debian's mosquitto_passwd and Mosquitto 2.0 (`/usr/sbin/mosquitto`, started here on a free
//! loopback port with `allow_anonymous false` and a `password_file`), mosquitto_pub/mosquitto_sub as
//! clients, and raw CONNECTs written with `wire::mqtt` to read the CONNACK bytes each broker answers.
//!
//! What is checked: a file made by mosquitto_passwd (`$7$` and `-H sha512` `$6$`) works in sister's
//! broker and a file made by `sister mqtt passwd` works in Mosquitto; `-D`, `-U`, `-I`, `-c`; the
//! broker's refusal of plain-text and malformed files with file:line; the very bytes of the CONNACK
//! for a wrong password, an unknown user, a missing password and an anonymous client (3.1.1 return
//! code 5, 5.0 reason 0x87, as Mosquitto); and that costly hashes do not stall connected clients.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wire::mqtt::{self, Connect, Packet, Version};

use crate::util::{self, Proc};

const LONG: Duration = Duration::from_secs(30);
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (./.ci/run installs mosquitto and mosquitto-clients)")
    })
}

/// `sister mqtt passwd ARGS`: (success, stderr).
fn passwd(args: &[&str]) -> (bool, String) {
    let mut all = vec!["mqtt", "passwd"];
    all.extend_from_slice(args);
    let out = run(&mut util::sister(&all));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn passwd_ok(args: &[&str]) {
    let (ok, err) = passwd(args);
    assert!(ok, "sister mqtt passwd {args:?} failed: {err}");
}

/// The real `mosquitto_passwd ARGS`, which must succeed.
fn mosquitto_passwd(args: &[&str]) {
    let out = run(Command::new("mosquitto_passwd").args(args));
    assert!(
        out.status.success(),
        "mosquitto_passwd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A broker under test: sister's or Mosquitto's, on a free loopback port, killed when dropped.
struct Broker {
    proc: Proc,
    port: u16,
    /// Mosquitto's configuration directory (`None`: sister's broker).
    mosquitto_dir: Option<tempfile::TempDir>,
}

fn sister_broker(password_file: &Path) -> Broker {
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let file = password_file.to_str().unwrap();
    let mut cmd = util::sister(&[
        "mqtt",
        "broker",
        "--bind",
        &bind,
        "--password-file",
        file,
        "--no-anonymous",
    ]);
    cmd.env("RUST_LOG", "info");
    let proc = Proc::spawn("sister mqtt broker", cmd);
    util::wait_for_tcp(util::local(port), LONG);
    Broker {
        proc,
        port,
        mosquitto_dir: None,
    }
}

fn mosquitto_broker(password_file: &Path) -> Broker {
    assert!(
        Path::new(MOSQUITTO).exists(),
        "{MOSQUITTO} is missing: run ./.ci/run (it installs the Debian package `mosquitto`)"
    );
    let port = util::free_tcp_port();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    // `user root`: started as root (as in CI's container), Mosquitto drops to user `mosquitto` BEFORE
    // it reads the password file, which could then not read a 0600 file in our 0700 temporary
    // directory. The option does nothing when not started as root (src/mosquitto.c, drop_privileges).
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\nuser root\n",
            password_file.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(MOSQUITTO);
    cmd.arg("-c").arg(&conf).arg("-v");
    let proc = Proc::spawn("mosquitto", cmd);
    util::wait_for_tcp(util::local(port), LONG);
    Broker {
        proc,
        port,
        mosquitto_dir: Some(dir),
    }
}

impl Broker {
    /// mosquitto_pub one message as `user`/`pass`: (success, stderr).
    fn publish(&self, user: &str, pass: &str, version: &str, topic: &str, msg: &str) -> (bool, String) {
        let out = run(Command::new("mosquitto_pub").args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-V",
            version,
            "-u",
            user,
            "-P",
            pass,
            "-t",
            topic,
            "-m",
            msg,
        ]));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// mosquitto_sub as `user`/`pass` for one message on `topic`, started once it is subscribed.
    fn subscribe_one(&mut self, user: &str, pass: &str, topic: &str) -> Proc {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-u", user, "-P", pass, "-t", topic, "-C", "1", "-v"]);
        let sub = Proc::spawn("mosquitto_sub", cmd);
        // Both brokers log the subscription: sister `filter=TOPIC`, Mosquitto `-v` "TOPIC (QoS 0)".
        let needle = if self.mosquitto_dir.is_some() {
            format!("{topic} (QoS 0)")
        } else {
            format!("filter={topic}")
        };
        self.proc.wait_for_line(&needle, LONG);
        sub
    }

    fn connack(&self, version: Version, user: Option<&str>, pass: Option<&str>) -> Vec<u8> {
        connack(self.port, version, user, pass)
    }
}

/// A raw CONNECT (version, username, password) to `port`, and the raw bytes of the CONNACK, read
/// until the packet is complete or the broker closes the connection.
fn connack(port: u16, version: Version, user: Option<&str>, pass: Option<&str>) -> Vec<u8> {
    let mut s = TcpStream::connect(util::local(port)).unwrap();
    s.set_read_timeout(Some(LONG)).unwrap();
    let connect = Packet::Connect(Box::new(Connect {
        version,
        client_id: "raw-login".into(),
        username: user.map(String::from),
        password: pass.map(|p| Bytes::from(p.as_bytes().to_vec())),
        ..Connect::default()
    }));
    s.write_all(&connect.to_vec(version).unwrap()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        if mqtt::Decoder::with_version(version).decode(&buf).is_ok() {
            return buf;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Publish as `pub_user` and receive as `sub_user` through broker `b`; then a wrong password is
/// refused with mosquitto_pub's "not authorised" (3.1.1) and "Not authorized" (5.0).
fn logins_work(b: &mut Broker, sub_user: (&str, &str), pub_user: (&str, &str)) {
    // A topic of its own per call: the broker's log line that says "subscribed" must be this one's.
    let topic = format!("lab/pw/{}", sub_user.0);
    let mut sub = b.subscribe_one(sub_user.0, sub_user.1, &topic);
    let (ok, err) = b.publish(pub_user.0, pub_user.1, "mqttv311", &topic, "hashed");
    assert!(ok, "publishing as {} failed: {err}", pub_user.0);
    sub.wait_for_line(&format!("{topic} hashed"), LONG);
    let (ok, err) = b.publish(pub_user.0, "wrong", "mqttv311", "lab/pw", "x");
    assert!(!ok);
    assert!(err.contains("Connection Refused: not authorised."), "{err}");
    let (ok, err) = b.publish(pub_user.0, "wrong", "mqttv5", "lab/pw", "x");
    assert!(!ok);
    assert!(err.contains("Connection error: Not authorized"), "{err}");
}

#[test]
fn mosquitto_passwd_files_work_in_sisters_broker() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwords");
    let file = pw.to_str().unwrap();
    mosquitto_passwd(&["-c", "-b", file, "alice", "secret"]);
    mosquitto_passwd(&["-H", "sha512", "-b", file, "bob", "hunter2"]);
    mosquitto_passwd(&["-I", "1000", "-b", file, "carol", "pass3"]);
    let text = std::fs::read_to_string(&pw).unwrap();
    assert!(
        text.contains("alice:$7$101$") && text.contains("bob:$6$") && text.contains("carol:$7$1000$"),
        "{text}"
    );
    let mut b = sister_broker(&pw);
    logins_work(&mut b, ("alice", "secret"), ("bob", "hunter2"));
    logins_work(&mut b, ("bob", "hunter2"), ("carol", "pass3"));
    b.proc.wait_for_line("wrong password for user `carol`", LONG);
    let (ok, _) = b.publish("eve", "secret", "mqttv311", "lab/pw", "x");
    assert!(!ok, "an unknown user must be refused");
    b.proc.wait_for_line("unknown user `eve`", LONG);
}

#[test]
fn sisters_files_work_in_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwords");
    let file = pw.to_str().unwrap();
    passwd_ok(&["-c", "-b", file, "alice", "secret"]);
    passwd_ok(&["-H", "sha512", "-b", file, "bob", "hunter2"]);
    passwd_ok(&["-I", "1000", "-b", file, "carol", "pass3"]);
    // `-U` output too: a plain line added by hand, then hashed.
    let mut f = std::fs::OpenOptions::new().append(true).open(&pw).unwrap();
    writeln!(f, "dave:plain words").unwrap();
    drop(f);
    passwd_ok(&["-U", file]);
    let mode = std::fs::metadata(&pw).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a password file is for its owner only");
    let mut m = mosquitto_broker(&pw);
    logins_work(&mut m, ("alice", "secret"), ("bob", "hunter2"));
    logins_work(&mut m, ("carol", "pass3"), ("dave", "plain words"));
    let log = m.proc.output();
    assert!(
        !log.contains("Error"),
        "Mosquitto complained about sister's file:\n{log}"
    );
}

#[test]
fn passwd_delete_update_iterations_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw.txt");
    let file = pw.to_str().unwrap();
    let read = || std::fs::read_to_string(&pw).unwrap();

    // Without -c the file must exist; with it, it is created.
    let (ok, err) = passwd(&["-b", file, "alice", "secret"]);
    assert!(!ok && err.contains("does not exist; create it with -c"), "{err}");
    passwd_ok(&["-c", "-b", file, "alice", "secret"]);
    // -I: the iteration count is in the line, and mosquitto_passwd's -b still edits the file after us.
    passwd_ok(&["-I", "4321", "-b", file, "bob", "-starts-with-a-dash"]);
    assert!(read().contains("\nbob:$7$4321$"), "{}", read());
    mosquitto_passwd(&["-b", file, "carol", "pass3"]);

    // A comment and a blank line survive an edit (mosquitto_passwd 2.0.11 would stop at them).
    std::fs::write(&pw, format!("# the lab's users\n\n{}", read())).unwrap();
    passwd_ok(&["-b", file, "alice", "changed"]);
    let text = read();
    assert!(text.starts_with("# the lab's users\n\nalice:$7$101$"), "{text}");

    // -D, and -D of someone absent.
    passwd_ok(&["-D", file, "bob"]);
    assert!(!read().contains("bob:"));
    let (ok, err) = passwd(&["-D", file, "bob"]);
    assert!(!ok && err.contains("user `bob` is not in"), "{err}");

    // Usernames the broker could not match, and flag combinations mosquitto_passwd refuses.
    let (ok, err) = passwd(&["-b", file, "a:b", "pw"]);
    assert!(!ok && err.contains("contains `:`"), "{err}");
    let (ok, err) = passwd(&["-c", "-D", file, "alice"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
    let (ok, err) = passwd(&["-I", "0", "-b", file, "alice", "pw"]);
    assert!(!ok && err.contains("-I"), "{err}");

    // The broker refuses plain text with the command that fixes it, and names file:line.
    std::fs::write(&pw, format!("{}dave:plain\n", read())).unwrap();
    let (status, _, err) = util::run_sister(
        &["mqtt", "broker", "--bind", "127.0.0.1:0", "--password-file", file],
        LONG,
    );
    assert!(!status.success());
    assert!(
        err.contains(&format!(
            "{file}:5: the password of `dave` is in plain text; hash the file with `sister mqtt passwd -U {file}` (or mosquitto_passwd -U)"
        )),
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    // -U hashes dave only; alice and carol keep their lines (mosquitto_passwd 2.0.11 hashes them again).
    let before: Vec<String> = read().lines().take(4).map(String::from).collect();
    passwd_ok(&["-U", file]);
    let after = read();
    assert!(after.starts_with(&before.join("\n")), "{after}");
    assert!(after.contains("\ndave:$7$101$"), "{after}");
    let b = sister_broker(&pw);
    let (ok, err) = b.publish("dave", "plain", "mqttv5", "t", "m");
    assert!(ok, "{err}");
    let (ok, err) = b.publish("carol", "pass3", "mqttv5", "t", "m");
    assert!(ok, "{err}");

    // A malformed line: file and line number, one line of error.
    std::fs::write(&pw, format!("{after}eve:$7$101$AAAA$AAAA\n")).unwrap();
    let (status, _, err) = util::run_sister(
        &["mqtt", "broker", "--bind", "127.0.0.1:0", "--password-file", file],
        LONG,
    );
    assert!(!status.success());
    assert!(
        err.contains(&format!(
            "{file}:6: the password hash of `eve`: the salt is 3 bytes"
        )),
        "{err}"
    );
}

/// The CONNACK of every refused login, byte for byte, from Mosquitto and from sister with one file.
#[test]
fn refusals_are_mosquittos_connack_5_and_0x87() {
    let dir = tempfile::tempdir().unwrap();
    let pw: PathBuf = dir.path().join("passwords");
    mosquitto_passwd(&["-c", "-b", pw.to_str().unwrap(), "alice", "secret"]);
    let mosquitto = mosquitto_broker(&pw);
    let sister = sister_broker(&pw);
    // 3.1.1: 0x20, length 2, session present 0, return code 5 (§3.2.2.3 "not authorized").
    // 5.0: 0x20, length 3, flags 0, reason 0x87 Not authorized, no properties (no reason string).
    let refused_311 = vec![0x20, 2, 0, 5];
    let refused_5 = vec![0x20, 3, 0, 0x87, 0];
    for (version, expected) in [(Version::V3_1_1, &refused_311), (Version::V5, &refused_5)] {
        for (what, user, pass) in [
            ("a wrong password", Some("alice"), Some("wrong")),
            ("an unknown user", Some("eve"), Some("secret")),
            ("no password", Some("alice"), None),
            ("an anonymous client", None, None),
        ] {
            let theirs = mosquitto.connack(version, user, pass);
            let ours = sister.connack(version, user, pass);
            assert_eq!(&theirs, expected, "Mosquitto, {version:?}, {what}");
            assert_eq!(ours, theirs, "sister vs Mosquitto, {version:?}, {what}");
        }
        // And the right password is accepted by both (return/reason code 0).
        for b in [&mosquitto, &sister] {
            let ok = b.connack(version, Some("alice"), Some("secret"));
            assert_eq!(ok.get(3), Some(&0), "{ok:?}");
        }
    }
}

/// With a costly hash (`-I 200000`), a burst of wrong passwords does not delay a connected client:
/// the hashing runs on blocking threads, not on the broker's event loop (which serves everyone).
#[test]
fn costly_hashes_do_not_stall_connected_clients() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwords");
    let file = pw.to_str().unwrap();
    passwd_ok(&["-c", "-I", "200000", "-b", file, "alice", "secret"]);
    let b = sister_broker(&pw);
    // One connected client (its own login costs one hash), timed on PINGREQ -> PINGRESP.
    let mut s = TcpStream::connect(util::local(b.port)).unwrap();
    s.set_read_timeout(Some(LONG)).unwrap();
    s.set_nodelay(true).unwrap();
    let connect = Packet::Connect(Box::new(Connect {
        client_id: "timed".into(),
        username: Some("alice".into()),
        password: Some(Bytes::from_static(b"secret")),
        ..Connect::default()
    }));
    s.write_all(&connect.to_vec(Version::V3_1_1).unwrap()).unwrap();
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).unwrap();
    assert_eq!(ack, [0x20, 2, 0, 0], "alice's login");
    let one_hash = {
        let t = Instant::now();
        assert_eq!(b.connack(Version::V3_1_1, Some("alice"), Some("wrong"))[3], 5);
        t.elapsed()
    };
    // 4 wrong logins at once: a few hundred ms of hashing each, a second or more in all.
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let port = b.port;
            std::thread::spawn(move || connack(port, Version::V3_1_1, Some("alice"), Some("wrong")))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        let t = Instant::now();
        s.write_all(&[0xC0, 0]).unwrap(); // PINGREQ
        let mut resp = [0u8; 2];
        s.read_exact(&mut resp).unwrap();
        assert_eq!(resp, [0xD0, 0]);
        worst = worst.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    for f in flood {
        assert_eq!(f.join().unwrap()[3], 5);
    }
    // Inline hashing would hold each ping behind one or more whole hashes.
    assert!(
        worst < one_hash / 2,
        "a ping took {worst:?} during the flood; one hash takes {one_hash:?}"
    );
}
