//! `sister lab` end to end: every pattern on loopback, exit status 0, a transcript per pattern.

use std::time::Duration;

use crate::util::*;

const T: Duration = Duration::from_secs(180);

#[test]
fn the_whole_lab_passes() {
    let (status, out, err) = run_sister(&["lab"], T);
    assert!(status.success(), "sister lab failed:\n{out}\n{err}");
    for pattern in ["reqresp", "oneway", "udp", "upcall", "ice", "corba"] {
        assert!(
            out.contains(&format!("PASS {pattern}")),
            "{pattern} not passed:\n{out}"
        );
    }
    // Role-prefixed transcript lines, plain (NO_COLOR is set by the test helpers).
    assert!(out.contains("reqresp-client | Received: Echo: hello"), "{out}");
    assert!(out.contains("upcall-server |"), "{out}");
    assert!(out.contains("ice-server | peer=127.0.0.1:"), "{out}");
    assert!(out.contains("Object2 says: Hello World from printer2!"), "{out}");
    assert!(out.contains("corba-client | Hello from CORBA Server!"), "{out}");
    assert!(out.contains("NameService.resolve_str"), "{out}");
    assert!(!out.contains('\u{1b}'), "colour codes with NO_COLOR set");
}

#[test]
fn only_runs_a_subset_and_rejects_unknown_patterns() {
    let (status, out, err) = run_sister(&["lab", "--only", "udp"], T);
    assert!(status.success(), "{out}\n{err}");
    assert!(out.contains("PASS udp") && !out.contains("reqresp"), "{out}");
    let (status, _out, err) = run_sister(&["lab", "--only", "nosuch"], T);
    assert_eq!(status.code(), Some(1));
    assert!(
        err.contains("unknown pattern") && err.contains("reqresp"),
        "{err}"
    );
}

#[test]
fn bench_reqresp_runs_against_its_own_server() {
    let (status, out, err) = run_sister(&["bench", "reqresp", "--clients", "1,4", "--duration", "0.3"], T);
    assert!(status.success(), "{out}\n{err}");
    assert!(out.contains("round trips") && out.lines().count() >= 4, "{out}");
}
