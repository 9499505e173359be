//! `sister check` end to end: text, JSON (parsed), `--lang id`, `--expect`, `--class` as Markdown,
//! CSV and JSON, and the exit statuses (0 every check passed, 1 a check failed, 2 bad usage), on the
//! real student captures of testdata/pcaps and on files made here (an empty file, a misnamed copy).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::util;

const TIMEOUT: Duration = Duration::from_secs(60);

fn pcap(name: &str) -> PathBuf {
    util::repo().join("testdata/pcaps").join(format!("{name}.pcap"))
}

fn check(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let (status, out, err) = util::run_sister(&all, TIMEOUT);
    (status.code().unwrap_or(-1), out, err)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The pattern each real capture holds, and the checks that fail on it.
const REAL: [(&str, &str, &[&str]); 13] = [
    ("jsonrpc__aauliariza__rpc", "rpc", &[]),
    ("lamport__auliamghfr__lamport", "lamport", &[]),
    ("mqtt__ArsyaDin__MQTT", "mqtt", &[]),
    (
        "mqtt__RahmatAramadhan__captureMQTT",
        "mqtt",
        &["handshake", "connect", "subscribe"],
    ),
    ("mqtt__achmadrzm__mqtt", "mqtt", &[]),
    ("rest__nadanadhira09__rest", "rest", &[]),
    ("soap__nadanadhira09__soap", "soap", &[]),
    ("tcpreqresp__aishadwiar-hub__reqresp", "reqresp", &[]),
    (
        "tcpreqresp__aryobagus-RAZ__auto-tcp-aryo",
        "reqresp",
        &["server-ready"],
    ),
    ("udp__aishadwiar-hub__udp4", "udp", &[]),
    ("udp__aryobagus-RAZ__oneway-coba-aryo", "oneway", &["port"]),
    ("upcall__aishadwiar-hub__upcall5", "upcall", &[]),
    ("zmq__daptong__zmq", "zmq", &[]),
];

#[test]
fn check_text_passes_and_fails() {
    let (code, out, err) = check(&[s(&pcap("mqtt__ArsyaDin__MQTT"))]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("mqtt (MQTT publish/subscribe), 12 of 12 checks passed"),
        "{out}"
    );
    assert!(
        out.contains("✓ SUBSCRIBE and its topic: 172.18.0.4 subscribed to sister/temp/athonk"),
        "{out}"
    );
    assert!(!out.contains('✗'), "{out}");

    let (code, out, _) = check(&[s(&pcap("mqtt__RahmatAramadhan__captureMQTT"))]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("9 of 12 checks passed"), "{out}");
    assert!(
        out.contains("✗ the three-way handshake: 1 of 2 connection(s) (172.20.0.4:51987"),
        "{out}"
    );
    assert!(out.contains("ℹ captured with `tcpdump -i any`"), "{out}");
    assert!(out.contains("every packet appears twice"), "{out}");

    // Several captures: one block each, then a line over all of them.
    let (code, out, _) = check(&[
        s(&pcap("udp__aishadwiar-hub__udp4")),
        s(&pcap("tcpreqresp__aryobagus-RAZ__auto-tcp-aryo")),
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("✗ the server was up before the client: the first connection"),
        "{out}"
    );
    assert!(
        out.ends_with("2 captures: 1 passed every check, 1 did not"),
        "{out}"
    );
}

#[test]
fn check_json_of_every_real_capture() {
    let files: Vec<PathBuf> = REAL.iter().map(|(n, _, _)| pcap(n)).collect();
    let mut args = vec!["--format", "json"];
    args.extend(files.iter().map(|f| s(f)));
    let (code, out, err) = check(&args);
    assert_eq!(code, 1, "two captures fail: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let captures = v["captures"].as_array().unwrap();
    assert_eq!(captures.len(), REAL.len());
    for ((name, pattern, failing), c) in REAL.iter().zip(captures) {
        assert!(
            c["file"].as_str().unwrap().ends_with(&format!("{name}.pcap")),
            "{c}"
        );
        assert_eq!(c["pattern"], *pattern, "{name}");
        let checks = c["checks"].as_array().unwrap();
        assert!(checks.len() >= 5, "{name}: {checks:?}");
        let failed: Vec<&str> = checks
            .iter()
            .filter(|k| !k["passed"].as_bool().unwrap())
            .map(|k| k["name"].as_str().unwrap())
            .collect();
        assert_eq!(failed, *failing, "{name}");
        for k in checks {
            assert!(k["detail"].as_str().is_some_and(|d| !d.is_empty()), "{name}: {k}");
            // A failed check names its fault in a few words; a passed one has none.
            assert_eq!(
                k["fault"].is_string(),
                !k["passed"].as_bool().unwrap(),
                "{name}: {k}"
            );
        }
        assert_eq!(c["checks_total"], checks.len());
    }
    // The documented order of the fields: file, pattern, checks.
    let first = out.find("\"file\"").unwrap();
    assert!(
        first < out.find("\"pattern\"").unwrap()
            && out.find("\"pattern\"").unwrap() < out.find("\"checks\"").unwrap()
    );
}

#[test]
fn check_in_indonesian() {
    let (code, out, _) = check(&[
        "--lang",
        "id",
        s(&pcap("tcpreqresp__aryobagus-RAZ__auto-tcp-aryo")),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("8 dari 9 pemeriksaan lulus"), "{out}");
    assert!(
        out.contains("✗ server sudah siap sebelum klien: koneksi pertama"),
        "{out}"
    );
    assert!(out.contains("jalankan server lebih dulu"), "{out}");
    let (code, out, _) = check(&[
        "--lang",
        "id",
        "--format",
        "json",
        s(&pcap("udp__aishadwiar-hub__udp4")),
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["captures"][0]["checks"][0]["title"], "file berisi paket");
    // Names stay the same in every language.
    assert_eq!(v["captures"][0]["checks"][0]["name"], "readable");
    let (code, _, err) = check(&["--lang", "fr", s(&pcap("udp__aishadwiar-hub__udp4"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown language"), "{err}");
}

#[test]
fn check_with_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let arsya = pcap("mqtt__ArsyaDin__MQTT");
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "# step 2\npattern = \"mqtt\"\ntopic = \"sister/temp/*\"\nmin_messages = 20\n",
    )
    .unwrap();
    let (code, out, err) = check(&["--expect", s(&good), "--format", "json", s(&arsya)]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["captures"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(
        names.ends_with(&["expect-pattern", "expect-topic", "expect-min-messages"]),
        "{names:?}"
    );

    let gaming = dir.path().join("gaming.toml");
    std::fs::write(&gaming, "topic = \"sister/channel/+\"\n").unwrap();
    let (code, out, _) = check(&["--expect", s(&gaming), s(&arsya)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ a PUBLISH to sister/channel/+: no PUBLISH to a topic matching sister/channel/+ (published: sister/temp/athonk)"), "{out}");

    let soap = dir.path().join("soap.toml");
    std::fs::write(&soap, "soap_result = -500\n").unwrap();
    let (code, out, _) = check(&["--expect", s(&soap), s(&pcap("soap__nadanadhira09__soap"))]);
    assert_eq!(code, 1);
    assert!(
        out.contains("no SOAP response carries -500 (results: 15)"),
        "{out}"
    );

    // A typo is an error with its line, and bad usage: exit status 2.
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "pattern = \"mqtt\"\ntopik = \"sister/temp\"\n").unwrap();
    let (code, out, err) = check(&["--expect", s(&typo), s(&arsya)]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("typo.toml is not a valid --expect file"), "{err}");
    assert!(err.contains("line 2") && err.contains("topik"), "{err}");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "port = \n").unwrap();
    let (code, _, err) = check(&["--expect", s(&broken), s(&arsya)]);
    assert_eq!(code, 2);
    assert!(err.contains("line 1"), "{err}");
    let (code, _, err) = check(&["--expect", s(&dir.path().join("missing.toml")), s(&arsya)]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

/// A class folder: real captures (one in a student's subfolder), an empty file, an MQTT capture
/// handed in as `soap.pcap`, and a file that is not a capture (left out).
fn class_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy = |name: &str, to: &str| {
        let to = dir.path().join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(pcap(name), to).unwrap();
    };
    copy("mqtt__ArsyaDin__MQTT", "arsya/mqtt.pcap");
    copy("mqtt__RahmatAramadhan__captureMQTT", "rahmat-mqtt.pcap");
    copy("tcpreqresp__aryobagus-RAZ__auto-tcp-aryo", "aryo-reqresp.pcap");
    copy("mqtt__achmadrzm__mqtt", "budi/soap.pcap");
    copy("udp__aishadwiar-hub__udp4", "aisha-udp.pcap");
    std::fs::write(dir.path().join("empty-rest.pcap"), b"").unwrap();
    std::fs::write(dir.path().join("analysis.md"), b"# my analysis\n").unwrap();
    dir
}

#[test]
fn class_table_markdown_csv_json() {
    let dir = class_dir();
    let (code, md, err) = check(&["--class", s(dir.path())]);
    assert_eq!(code, 1, "{md}{err}");
    assert!(md.contains("(6)\n"), "{md}");
    assert!(!md.contains("analysis.md"), "{md}");
    for row in [
        "| aisha-udp.pcap | udp | 6/6 | – | – |",
        "| arsya/mqtt.pcap | mqtt | 12/12 | – | – |",
        "| aryo-reqresp.pcap | reqresp | 8/9 | connection refused (server not up yet) | – |",
        "| budi/soap.pcap | mqtt | 11/12 | file named after another protocol | – |",
        "| empty-rest.pcap | none | 0/1 | empty file | – |",
        "| rahmat-mqtt.pcap | mqtt | 9/12 | capture started mid-stream; no CONNECT; no SUBSCRIBE | -i any: every packet twice |",
    ] {
        assert!(md.contains(row), "no row {row} in\n{md}");
    }
    assert!(md.contains("2 of 6 captures passed every check."), "{md}");
    assert!(md.contains("| mqtt | 3 |"), "{md}");
    assert!(md.contains("| none | 1 |"), "{md}");
    assert!(md.contains("| empty file | 1 |"), "{md}");

    let (code, csv, _) = check(&["--class", s(dir.path()), "--format", "csv"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7, "{csv}");
    assert_eq!(lines[0], "file,pattern,checks_passed,checks_total,faults,notes");
    assert!(lines.contains(&"empty-rest.pcap,none,0,1,empty file,"), "{csv}");
    assert!(
        lines.contains(&"budi/soap.pcap,mqtt,11,12,file named after another protocol,"),
        "{csv}"
    );

    let (code, json, _) = check(&["--class", s(dir.path()), "--format", "json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["captures"].as_array().unwrap().len(), 6);
    assert_eq!(v["summary"]["captures"], 6);
    assert_eq!(v["summary"]["all_passed"], 2);
    assert_eq!(v["summary"]["patterns"][0]["pattern"], "mqtt");
    assert_eq!(v["summary"]["patterns"][0]["captures"], 3);
    let budi = v["captures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "budi/soap.pcap")
        .unwrap();
    let name_check = budi["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "file-name")
        .unwrap();
    assert_eq!(name_check["passed"], false);
    assert!(name_check["detail"]
        .as_str()
        .unwrap()
        .contains("named after soap but holds mqtt"));

    let (code, md, _) = check(&["--class", s(dir.path()), "--lang", "id"]);
    assert_eq!(code, 1);
    assert!(
        md.contains("| empty-rest.pcap | none | 0/1 | file kosong | – |"),
        "{md}"
    );
    assert!(md.contains("## Ringkasan"), "{md}");
}

#[test]
fn class_of_good_captures_passes() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "mqtt__ArsyaDin__MQTT",
        "zmq__daptong__zmq",
        "soap__nadanadhira09__soap",
    ] {
        std::fs::copy(pcap(name), dir.path().join(format!("{name}.pcap"))).unwrap();
    }
    let (code, md, err) = check(&["--class", s(dir.path())]);
    assert_eq!(code, 0, "{md}{err}");
    assert!(md.contains("3 of 3 captures passed every check."), "{md}");
    assert!(md.contains("No faults."), "{md}");
}

#[test]
fn check_exit_statuses_and_bad_input() {
    // No capture and no --class, both, an unknown format: clap's usage errors.
    assert_eq!(check(&[]).0, 2);
    let arsya = pcap("mqtt__ArsyaDin__MQTT");
    assert_eq!(check(&["--class", "testdata/pcaps", s(&arsya)]).0, 2);
    assert_eq!(check(&["--format", "xml", s(&arsya)]).0, 2);
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = check(&["--class", s(empty.path())]);
    assert_eq!(code, 2);
    assert!(err.contains("no capture files"), "{err}");
    let (code, _, err) = check(&["--class", s(&arsya)]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a folder"), "{err}");
    // A missing or non-capture file is a failed check, not a crash: the other captures are checked.
    let notes = empty.path().join("mqtt.pcap");
    std::fs::write(&notes, "Wireshark said: 12 packets").unwrap();
    let (code, out, err) = check(&[s(&empty.path().join("nope.pcap")), s(&notes), s(&arsya)]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("nope.pcap: none (no lab pattern), 0 of 1 checks passed"),
        "{out}"
    );
    assert!(
        out.contains("✗ the file holds packets: there is no such file"),
        "{out}"
    );
    assert!(out.contains("not a pcap or pcapng file"), "{out}");
    assert!(
        out.contains("mqtt__ArsyaDin__MQTT.pcap: mqtt (MQTT publish/subscribe), 12 of 12"),
        "{out}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn check_help_has_examples() {
    let (code, out, _) = check(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Examples:") && out.contains("sister check --class handed-in/"),
        "{out}"
    );
    assert!(out.contains("soap_result = -500"), "{out}");
}
