//! `sister analyze` on the 13 real student captures in testdata/pcaps, the 3 ZeroC Ice captures in
//! testdata/ice, the 4 omniORB captures in testdata/corba and the 6 OpenSSL/Mosquitto captures in
//! testdata/tls, checked against the reference tools on the same file: tshark (packets, TCP/UDP
//! conversations, HTTP requests and responses, MQTT messages, Ice and GIOP messages, TLS records,
//! handshake messages and alerts) and tcpflow (every reassembled stream, byte for byte). Where sister rightly differs, the
//! assertion says why. Plus snapshots (insta) of the text reports, and the bad-input contract.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util;

/// A capture by name: a student's in testdata/pcaps (`mqtt__ArsyaDin__MQTT`), or one of the project's
/// own in another folder of testdata (`ice/bank`).
fn pcap(name: &str) -> PathBuf {
    util::repo().join(capture_path(name))
}

fn capture_path(name: &str) -> String {
    if name.contains('/') {
        format!("testdata/{name}.pcap")
    } else {
        format!("testdata/pcaps/{name}.pcap")
    }
}

/// Run a reference tool; a missing tool fails the test (CI installs tshark and tcpflow).
fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}): install it (./.ci/run installs tshark and tcpflow)")
    });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tshark(file: &Path, extra: &[&str]) -> String {
    let f = file.to_str().unwrap();
    let mut args = vec!["-n", "-r", f];
    args.extend_from_slice(extra);
    tool("tshark", &args)
}

/// `sister analyze --format json --streams DIR FILE`.
fn analyze(file: &Path, streams: &Path) -> Value {
    let out = util::sister(&[
        "analyze",
        "--format",
        "json",
        "--streams",
        streams.to_str().unwrap(),
        file.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "sister analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sister analyze --format json prints JSON")
}

/// True for `tcpdump -i any` captures whose every packet is there twice.
fn is_sll2(report: &Value) -> bool {
    report["capture"]["link_types"].to_string().contains("LINUX_SLL2")
}

/// Marks a byte count tshark printed in kB.
const KB_FLAG: u64 = 1 << 63;

/// tshark's conversation table: (A, B) -> (frames A→B, bytes A→B, frames B→A, bytes B→A).
fn tshark_conversations(file: &Path, kind: &str) -> BTreeMap<(String, String), (u64, u64, u64, u64)> {
    let out = tshark(file, &["-q", "-z", &format!("conv,{kind}")]);
    let mut convs = BTreeMap::new();
    for line in out.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 11 || t[1] != "<->" {
            continue;
        }
        // A <-> B  frames(B→A) bytes unit  frames(A→B) bytes unit  total ...
        let bytes = |n: &str, unit: &str| -> u64 {
            let v: f64 = n.parse().unwrap();
            match unit {
                "bytes" => v as u64,
                // tshark prints larger counts in whole kB (rounded down): keep the unit in the value.
                "kB" => KB_FLAG | v as u64,
                other => panic!("tshark printed bytes in {other}: teach this test that unit"),
            }
        };
        let back = (t[3].parse().unwrap(), bytes(t[4], t[5]));
        let fwd = (t[6].parse().unwrap(), bytes(t[7], t[8]));
        convs.insert(
            (t[0].to_string(), t[2].to_string()),
            (fwd.0, fwd.1, back.0, back.1),
        );
    }
    convs
}

fn endpoint(v: &Value) -> String {
    let addr = v["addr"].as_str().unwrap();
    if addr.contains(':') {
        format!("[{addr}]:{}", v["port"])
    } else {
        format!("{addr}:{}", v["port"])
    }
}

fn compare_packets_and_conversations(file: &Path, r: &Value) {
    let frames = tshark(file, &["-T", "fields", "-e", "frame.number"])
        .lines()
        .count() as u64;
    assert_eq!(
        r["capture"]["packets"], frames,
        "packets: tshark counts {frames} frames"
    );
    let dup = if is_sll2(r) {
        // Every packet of a `tcpdump -i any` capture of a Docker bridge is there twice (veth and
        // bridge). tshark counts both copies (and flags the second as a retransmission); sister drops
        // the second, so each of its counts is exactly half of tshark's.
        assert_eq!(
            r["capture"]["duplicates"].as_u64().unwrap() * 2,
            frames,
            "SLL2: every packet twice"
        );
        2
    } else {
        assert_eq!(
            r["capture"]["duplicates"], 0,
            "no duplicates in a single-interface capture"
        );
        1
    };
    for kind in ["tcp", "udp"] {
        let theirs = tshark_conversations(file, kind);
        let mut ours = BTreeMap::new();
        for c in r["conversations"].as_array().unwrap() {
            if c["transport"] != kind {
                continue;
            }
            let (a, b) = (endpoint(&c["client"]), endpoint(&c["server"]));
            let cs = &c["client_to_server"];
            let sc = &c["server_to_client"];
            let n = |v: &Value| v.as_u64().unwrap() * dup;
            // tshark lists a conversation A <-> B in either order; key ours both ways.
            let (key, val) = if theirs.contains_key(&(a.clone(), b.clone())) {
                (
                    (a, b),
                    (
                        n(&cs["packets"]),
                        n(&cs["bytes"]),
                        n(&sc["packets"]),
                        n(&sc["bytes"]),
                    ),
                )
            } else {
                (
                    (b, a),
                    (
                        n(&sc["packets"]),
                        n(&sc["bytes"]),
                        n(&cs["packets"]),
                        n(&cs["bytes"]),
                    ),
                )
            };
            *ours.entry(key).or_insert((0, 0, 0, 0)) = val;
        }
        // tshark folds a reused 4-tuple into one conversation; none of these captures reuses one.
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{kind} conversations differ from tshark's"
        );
        for (k, t) in &theirs {
            let o = ours[k];
            let same = |a: u64, b: u64| {
                if b & KB_FLAG != 0 {
                    a / 1000 == b & !KB_FLAG
                } else {
                    a == b
                }
            };
            assert!(
                o.0 == t.0 && o.2 == t.2 && same(o.1, t.1) && same(o.3, t.3),
                "{kind} conversation {k:?}: sister {o:?}, tshark {t:?} (frames, bytes each way)"
            );
        }
    }
}

/// The HTTP requests and responses must be the ones tshark sees (decoded as HTTP on the server port).
fn compare_http(file: &Path, r: &Value) {
    let mut ports = BTreeSet::new();
    let mut ours_req = Vec::new();
    let mut ours_resp = Vec::new();
    for c in r["conversations"].as_array().unwrap() {
        for m in c["messages"].as_array().unwrap() {
            let f = &m["fields"];
            if let (Some(method), Some(path)) = (f["method"].as_str(), f["path"].as_str()) {
                ours_req.push(format!("{method} {path}"));
                ports.insert(c["server"]["port"].as_u64().unwrap());
            } else if let Some(status) = f["status"].as_str() {
                ours_resp.push(status.to_string());
            }
        }
    }
    if ports.is_empty() {
        return;
    }
    let mut args = vec![];
    let decode_as: Vec<String> = ports.iter().map(|p| format!("tcp.port=={p},http")).collect();
    for d in &decode_as {
        args.extend(["-d", d.as_str()]);
    }
    let mut req_args = args.clone();
    req_args.extend([
        "-Y",
        "http.request",
        "-T",
        "fields",
        "-e",
        "http.request.method",
        "-e",
        "http.request.uri",
    ]);
    let mut theirs_req: Vec<String> = tshark(file, &req_args)
        .lines()
        .map(|l| l.replace('\t', " "))
        .collect();
    let mut resp_args = args.clone();
    resp_args.extend(["-Y", "http.response", "-T", "fields", "-e", "http.response.code"]);
    let mut theirs_resp: Vec<String> = tshark(file, &resp_args).lines().map(str::to_string).collect();
    for v in [&mut ours_req, &mut theirs_req, &mut ours_resp, &mut theirs_resp] {
        v.sort();
    }
    assert_eq!(ours_req, theirs_req, "HTTP requests differ from tshark's");
    assert_eq!(ours_resp, theirs_resp, "HTTP responses differ from tshark's");
}

/// MQTT messages by type and topic must be tshark's.
fn compare_mqtt(file: &Path, r: &Value) {
    let mut ours: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut any = false;
    for c in r["conversations"].as_array().unwrap() {
        for m in c["messages"].as_array().unwrap() {
            if m["protocol"] != "MQTT" {
                continue;
            }
            any = true;
            let f = &m["fields"];
            let kind = f["type"].as_str().unwrap_or("?").to_string();
            let topic = f["topic"].as_str().unwrap_or("").to_string();
            *ours.entry((kind, topic)).or_default() += 1;
        }
    }
    if !any {
        return;
    }
    let out = tshark(
        file,
        &[
            "-Y",
            "mqtt",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=|",
            "-e",
            "mqtt.msgtype",
            "-e",
            "mqtt.topic",
        ],
    );
    let names = [
        "",
        "CONNECT",
        "CONNACK",
        "PUBLISH",
        "PUBACK",
        "PUBREC",
        "PUBREL",
        "PUBCOMP",
        "SUBSCRIBE",
        "SUBACK",
        "UNSUBSCRIBE",
        "UNSUBACK",
        "PINGREQ",
        "PINGRESP",
        "DISCONNECT",
        "AUTH",
    ];
    let mut theirs: BTreeMap<(String, String), u64> = BTreeMap::new();
    for line in out.lines() {
        let mut cols = line.split('\t');
        let types: Vec<&str> = cols.next().unwrap_or("").split('|').collect();
        let topics: Vec<&str> = cols
            .next()
            .unwrap_or("")
            .split('|')
            .filter(|t| !t.is_empty())
            .collect();
        let mut topics = topics.into_iter();
        for t in types {
            let n: usize = t.parse().unwrap_or(0);
            let kind = names.get(n).copied().unwrap_or("?").to_string();
            let topic = if kind == "PUBLISH" {
                topics.next().unwrap_or("").to_string()
            } else {
                String::new()
            };
            *theirs.entry((kind, topic)).or_default() += 1;
        }
    }
    // SUBSCRIBE: tshark's mqtt.topic is the filter; sister puts filters under `filters`, keep type only.
    let strip = |m: &BTreeMap<(String, String), u64>| -> BTreeMap<(String, String), u64> {
        let mut o = BTreeMap::new();
        for ((k, t), n) in m {
            let t = if k == "PUBLISH" { t.clone() } else { String::new() };
            *o.entry((k.clone(), t)).or_default() += n;
        }
        o
    };
    assert_eq!(
        strip(&ours),
        strip(&theirs),
        "MQTT messages by type and topic differ from tshark's"
    );
}

/// ZMTP: tshark has no ZMTP dissector (it shows these streams as "data"), so sister rightly differs:
/// it decodes them with the lab's codec. What can be checked: every ZMTP connection shows a greeting
/// and a READY each way, and the bytes themselves are compared with tcpflow's like every stream.
fn check_zmtp(file: &Path, r: &Value) {
    let convs: Vec<&Value> = r["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["protocol"] == "ZMTP")
        .collect();
    if convs.is_empty() {
        return;
    }
    let out = Command::new("tshark")
        .args(["-r", file.to_str().unwrap(), "-Y", "zmtp"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "tshark learned ZMTP: compare sister's ZMTP messages with it"
    );
    for c in convs {
        let kinds: Vec<(&str, &str)> = c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["direction"].as_str().unwrap(),
                    m["fields"]["type"].as_str().unwrap_or(""),
                )
            })
            .collect();
        for dir in ["client_to_server", "server_to_client"] {
            for kind in ["GREETING", "READY"] {
                assert!(
                    kinds.contains(&(dir, kind)),
                    "conversation #{}: no {kind} {dir}: {kinds:?}",
                    c["id"]
                );
            }
        }
    }
}

/// Ice messages must be tshark's (its `icep` dissector, told the port of every Ice conversation with
/// `-d tcp.port==P,icep`, though its heuristic finds them anyway): the same number each way, the same
/// message types, and for every frame holding one uncompressed message the same request id and
/// operation, in order. tshark counts Ice messages, not frames (a BatchRequest is one message); it
/// does not decompress, so a compressed message is compared by its type only.
fn compare_ice(file: &Path, r: &Value) {
    // (source endpoint, destination endpoint) -> the messages that way: (type, request id, operation).
    type Way = BTreeMap<(String, String), Vec<(u8, String, String)>>;
    let kind = |t: &str| match t {
        "Request" => 0,
        "BatchRequest" => 1,
        "Reply" => 2,
        "ValidateConnection" => 3,
        "CloseConnection" => 4,
        other => panic!("Ice message type {other:?}"),
    };
    let mut ours: Way = BTreeMap::new();
    let mut compressed: BTreeMap<(String, String), Vec<bool>> = BTreeMap::new();
    let mut ports = BTreeSet::new();
    for c in r["conversations"].as_array().unwrap() {
        let (client, server) = (endpoint(&c["client"]), endpoint(&c["server"]));
        for m in c["messages"].as_array().unwrap() {
            if m["protocol"] != "Ice" {
                continue;
            }
            ports.insert(c["server"]["port"].as_u64().unwrap());
            let way = if m["direction"] == "client_to_server" {
                (client.clone(), server.clone())
            } else {
                (server.clone(), client.clone())
            };
            let f = &m["fields"];
            let text = |k: &str| f[k].as_str().unwrap_or("").to_string();
            let (id, op) = match text("type").as_str() {
                "Request" => (text("request_id"), text("operation")),
                "Reply" => (text("request_id"), String::new()),
                _ => (String::new(), String::new()),
            };
            ours.entry(way.clone())
                .or_default()
                .push((kind(&text("type")), id, op));
            compressed.entry(way).or_default().push(f["compressed"] == "true");
        }
    }
    let mut args = vec![];
    let decode_as: Vec<String> = ports.iter().map(|p| format!("tcp.port=={p},icep")).collect();
    for d in &decode_as {
        args.extend(["-d", d.as_str()]);
    }
    args.extend([
        "-Y",
        "icep",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-e",
        "ip.src",
        "-e",
        "tcp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "tcp.dstport",
        "-e",
        "icep.message_type",
        "-e",
        "icep.compression_status",
        "-e",
        "icep.request_id",
        "-e",
        "icep.operation",
    ]);
    let out = tshark(file, &args);
    let mut theirs: Way = BTreeMap::new();
    let mut whole: BTreeMap<(String, String), Vec<bool>> = BTreeMap::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let col = |i: usize| cols.get(i).copied().unwrap_or("");
        let way = (format!("{}:{}", col(0), col(1)), format!("{}:{}", col(2), col(3)));
        let types: Vec<&str> = col(4).split('|').filter(|t| !t.is_empty()).collect();
        // A frame holding one message of its own: its fields are that message's.
        let single = types.len() == 1 && col(5) != "2" && !col(6).contains('|') && !col(7).contains('|');
        for t in &types {
            let t: u8 = t.parse().unwrap();
            let (id, op) = match (single, t) {
                (true, 0) => (col(6).to_string(), col(7).to_string()),
                (true, 2) => (col(6).to_string(), String::new()),
                _ => (String::new(), String::new()),
            };
            theirs.entry(way.clone()).or_default().push((t, id, op));
            whole.entry(way.clone()).or_default().push(single);
        }
    }
    let count = |w: &Way| w.values().map(Vec::len).sum::<usize>();
    assert_eq!(
        count(&ours),
        count(&theirs),
        "Ice messages: sister {}, tshark {}",
        count(&ours),
        count(&theirs)
    );
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "Ice directions"
    );
    for (way, mine) in &ours {
        let tsh = &theirs[way];
        for (i, (m, t)) in mine.iter().zip(tsh).enumerate() {
            assert_eq!(m.0, t.0, "{way:?} message {i}: type {} vs tshark's {}", m.0, t.0);
            if whole[way][i] && !compressed[way][i] {
                assert_eq!(
                    m, t,
                    "{way:?} message {i}: sister vs tshark (type, request id, operation)"
                );
            }
        }
    }
}

/// GIOP messages must be tshark's (its `giop` dissector, told the port of every GIOP conversation with
/// `-d tcp.port==P,giop`: it knows 2809 but not the ports servers choose): the same number each way,
/// the same message types in order, and for every frame holding one message that is not part of a
/// fragmented one, the same request id, operation and reply status. tshark counts messages, not frames,
/// and every Fragment is a message of its own for both. Every capture is compared, those without
/// GIOP too: neither may find GIOP where the other does not.
fn compare_giop(file: &Path, r: &Value) {
    // (source endpoint, destination endpoint) -> the messages that way: (type, id, operation, status).
    type Way = BTreeMap<(String, String), Vec<(u8, String, String, String)>>;
    let kind = |t: &str| -> u8 {
        match t {
            "Request" => 0,
            "Reply" => 1,
            "CancelRequest" => 2,
            "LocateRequest" => 3,
            "LocateReply" => 4,
            "CloseConnection" => 5,
            "MessageError" => 6,
            "Fragment" => 7,
            other => other
                .strip_prefix("unknown (")
                .and_then(|n| n.strip_suffix(')'))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("GIOP message type {other:?}")),
        }
    };
    let status = |s: &str| -> String {
        let names = [
            "NO_EXCEPTION",
            "USER_EXCEPTION",
            "SYSTEM_EXCEPTION",
            "LOCATION_FORWARD",
            "LOCATION_FORWARD_PERM",
            "NEEDS_ADDRESSING_MODE",
        ];
        match names.iter().position(|n| *n == s) {
            Some(i) => i.to_string(),
            None => s.strip_prefix("reply status ").unwrap_or(s).to_string(),
        }
    };
    let mut ours: Way = BTreeMap::new();
    let mut ports = BTreeSet::new();
    for c in r["conversations"].as_array().unwrap() {
        let (client, server) = (endpoint(&c["client"]), endpoint(&c["server"]));
        for m in c["messages"].as_array().unwrap() {
            if m["protocol"] != "GIOP" {
                continue;
            }
            ports.insert(c["server"]["port"].as_u64().unwrap());
            let way = if m["direction"] == "client_to_server" {
                (client.clone(), server.clone())
            } else {
                (server.clone(), client.clone())
            };
            let f = &m["fields"];
            let text = |k: &str| f[k].as_str().unwrap_or("").to_string();
            let t = kind(&text("type"));
            let op = if t == 0 { text("operation") } else { String::new() };
            let st = if t == 1 {
                status(&text("reply_status"))
            } else {
                String::new()
            };
            ours.entry(way).or_default().push((t, text("request_id"), op, st));
        }
    }
    let decode_as: Vec<String> = ports.iter().map(|p| format!("tcp.port=={p},giop")).collect();
    let mut args = vec![];
    for d in &decode_as {
        args.extend(["-d", d.as_str()]);
    }
    args.extend([
        "-Y",
        "giop",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-e",
        "ip.src",
        "-e",
        "tcp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "tcp.dstport",
        "-e",
        "giop.type",
        "-e",
        "giop.request_id",
        "-e",
        "giop.request_op",
        "-e",
        "giop.replystatus",
        "-e",
        "giop.flags.fragment",
    ]);
    let out = tshark(file, &args);
    let mut theirs: Way = BTreeMap::new();
    let mut whole: BTreeMap<(String, String), Vec<bool>> = BTreeMap::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let col = |i: usize| cols.get(i).copied().unwrap_or("");
        let way = (format!("{}:{}", col(0), col(1)), format!("{}:{}", col(2), col(3)));
        let types: Vec<&str> = col(4).split('|').filter(|t| !t.is_empty()).collect();
        // A frame holding one message of its own, not a piece of a fragmented one: its fields are
        // that message's.
        let single = types.len() == 1
            && types[0] != "7"
            && !col(9).contains('1')
            && ![5, 6, 7].iter().any(|&i| col(i).contains('|'));
        for t in &types {
            let t: u8 = t.parse().unwrap();
            let (id, op, st) = if single {
                (col(5).to_string(), col(6).to_string(), col(7).to_string())
            } else {
                Default::default()
            };
            theirs.entry(way.clone()).or_default().push((t, id, op, st));
            whole.entry(way.clone()).or_default().push(single);
        }
    }
    let count = |w: &Way| w.values().map(Vec::len).sum::<usize>();
    assert_eq!(
        count(&ours),
        count(&theirs),
        "{}: GIOP messages: sister {}, tshark {}",
        file.display(),
        count(&ours),
        count(&theirs)
    );
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "GIOP directions"
    );
    for (way, mine) in &ours {
        let tsh = &theirs[way];
        for (i, (m, t)) in mine.iter().zip(tsh).enumerate() {
            assert_eq!(m.0, t.0, "{way:?} message {i}: type {} vs tshark's {}", m.0, t.0);
            if whole[way][i] {
                assert_eq!(
                    m, t,
                    "{way:?} message {i}: sister vs tshark (type, request id, operation, reply status)"
                );
            }
        }
    }
}

/// Every stream file must be byte-identical to tcpflow's, and the set of files the same.
fn compare_streams(file: &Path, ours_dir: &Path, r: &Value) {
    let theirs_dir = tempfile::tempdir().unwrap();
    let (f, d) = (file.to_str().unwrap(), theirs_dir.path().to_str().unwrap());
    if is_sll2(r) {
        // tcpflow cannot read LINUX_SLL2 ("unknown datalink type 276"); the streams are checked against
        // tshark's "Follow TCP Stream" instead. If tcpflow learns SLL2, this test says so.
        let out = Command::new("tcpflow")
            .args(["-r", f, "-o", d])
            .output()
            .expect("tcpflow is installed");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unknown datalink type 276"),
            "tcpflow learned SLL2: compare with it again"
        );
        compare_with_tshark_follow(file, ours_dir, r);
        return;
    }
    tool("tcpflow", &["-r", f, "-o", d]);
    let list = |d: &Path| -> BTreeSet<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "report.xml" && !n.ends_with(".xml"))
            .collect()
    };
    let ours = list(ours_dir);
    let theirs = list(theirs_dir.path());
    assert_eq!(ours, theirs, "stream files differ from tcpflow's");
    for name in &ours {
        let a = std::fs::read(ours_dir.join(name)).unwrap();
        let b = std::fs::read(theirs_dir.path().join(name)).unwrap();
        assert!(
            a == b,
            "{name}: {} bytes from sister, {} from tcpflow, contents differ",
            a.len(),
            b.len()
        );
    }
}

/// tshark -z follow,tcp,raw,N: each direction's bytes in order (tshark drops retransmitted copies).
fn compare_with_tshark_follow(file: &Path, ours_dir: &Path, r: &Value) {
    for (n, c) in r["conversations"].as_array().unwrap().iter().enumerate() {
        if c["transport"] != "tcp" {
            continue;
        }
        let out = tshark(file, &["-q", "-z", &format!("follow,tcp,raw,{n}")]);
        let (mut node0, mut to_node1, mut to_node0) = (String::new(), Vec::new(), Vec::new());
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("Node 0: ") {
                node0 = rest.to_string();
            } else if let Some(hex) = line.strip_prefix('\t') {
                to_node0.extend(decode_hex(hex));
            } else if !line.is_empty() && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                to_node1.extend(decode_hex(line));
            }
        }
        let client = endpoint(&c["client"]);
        let (c2s, s2c) = if node0 == client {
            (to_node1, to_node0)
        } else {
            (to_node0, to_node1)
        };
        let name = |a: &Value, b: &Value| {
            let part = |v: &Value| {
                let o: Vec<String> = v["addr"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .map(|x| format!("{x:0>3}"))
                    .collect();
                format!("{}.{:05}", o.join("."), v["port"].as_u64().unwrap())
            };
            format!("{}-{}", part(a), part(b))
        };
        let read = |n: String| std::fs::read(ours_dir.join(n)).unwrap_or_default();
        assert!(
            read(name(&c["client"], &c["server"])) == c2s,
            "conversation #{}: client→server bytes differ from tshark's follow",
            n + 1
        );
        assert!(
            read(name(&c["server"], &c["client"])) == s2c,
            "conversation #{}: server→client bytes differ from tshark's follow",
            n + 1
        );
    }
}

fn decode_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn check_capture(name: &str) -> Value {
    let file = pcap(name);
    let streams = tempfile::tempdir().unwrap();
    let r = analyze(&file, streams.path());
    compare_packets_and_conversations(&file, &r);
    compare_http(&file, &r);
    compare_mqtt(&file, &r);
    check_zmtp(&file, &r);
    compare_ice(&file, &r);
    compare_giop(&file, &r);
    compare_streams(&file, streams.path(), &r);
    r
}

/// The text report of a capture, for the snapshot (run from the repo root so the path is relative).
fn text_report(name: &str) -> String {
    let out = util::sister(&["analyze", &capture_path(name)])
        .current_dir(util::repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

macro_rules! capture_tests {
    ($($test:ident => $name:literal,)*) => {$(
        #[test]
        fn $test() {
            let r = check_capture($name);
            assert!(r["problems"].as_array().unwrap().iter().all(|p| !p.as_str().unwrap().contains("could not")), "{}", r["problems"]);
            insta::assert_snapshot!(stringify!($test), text_report($name));
        }
    )*};
}

capture_tests! {
    mqtt_rahmat_sll2 => "mqtt__RahmatAramadhan__captureMQTT",
    mqtt_arsya => "mqtt__ArsyaDin__MQTT",
    mqtt_achmad => "mqtt__achmadrzm__mqtt",
    reqresp_aisha => "tcpreqresp__aishadwiar-hub__reqresp",
    reqresp_aryo_refused => "tcpreqresp__aryobagus-RAZ__auto-tcp-aryo",
    upcall_aisha => "upcall__aishadwiar-hub__upcall5",
    soap_nada => "soap__nadanadhira09__soap",
    rest_nada => "rest__nadanadhira09__rest",
    jsonrpc_aulia => "jsonrpc__aauliariza__rpc",
    zmq_daptong => "zmq__daptong__zmq",
    udp_oneway_aryo => "udp__aryobagus-RAZ__oneway-coba-aryo",
    udp_aisha => "udp__aishadwiar-hub__udp4",
    lamport_aulia => "lamport__auliamghfr__lamport",
    ice_printer => "ice/printer",
    ice_bank => "ice/bank",
    ice_compressed => "ice/compressed",
    corba_hello => "corba/hello",
    corba_notfound => "corba/notfound",
    corba_giop10 => "corba/giop10",
    corba_bigendian => "corba/bigendian",
    tls_tls13 => "tls/tls13",
    tls_tls12 => "tls/tls12",
    tls_alert => "tls/alert",
    tls_hrr => "tls/hrr",
    tls_midstream => "tls/midstream",
    tls_mosquitto => "tls/mosquitto",
}

/// Ice streams cut awkwardly, checked against tshark: several messages in one segment, a message over
/// four segments, a port tshark does not know, and a connection captured from inside a message (the
/// client's first segments are the rest of a request; the server's reply starts with a header).
#[test]
fn ice_counts_are_tsharks_on_awkward_streams() {
    use capture::synth::{Conn, Host, Rng};
    use wire::ice::{encode, Encapsulation, Identity, Message, Reply, Request, ENCODING_1_1};
    let ice = |m: &Message| {
        let mut out = Vec::new();
        encode(m, &mut out);
        out
    };
    let call = |id, op: &str, text: &str| {
        Message::Request(Request::new(
            id,
            Identity::new("printer"),
            op,
            Encapsulation::build(ENCODING_1_1, |w| w.string(text)),
        ))
    };
    let ok = |id| Message::Reply(Reply::ok(id, Encapsulation::empty()));
    let big = "x".repeat(5000);
    let mut rng = Rng::new(14);
    let (client, server) = (Host::docker(3), Host::docker(2));
    let mut a = Conn::open(&mut rng, client, 40001, server, 23456);
    a.send(false, &ice(&Message::ValidateConnection));
    a.send(
        true,
        &[
            ice(&call(1, "a", "1")),
            ice(&call(2, "b", "2")),
            ice(&call(3, "c", "3")),
        ]
        .concat(),
    );
    a.send(false, &[ice(&ok(1)), ice(&ok(2)), ice(&ok(3))].concat());
    a.send(true, &ice(&call(4, "printString", &big)));
    a.send(false, &ice(&ok(4)));
    a.send(
        true,
        &ice(&Message::BatchRequest(vec![
            Request::new(
                0,
                Identity::new("log"),
                "write",
                Encapsulation::empty()
            );
            3
        ])),
    );
    a.send(true, &ice(&Message::CloseConnection));
    a.close();
    let mut b = Conn::open(&mut rng, client, 40002, server, 4061);
    b.send(true, &ice(&call(7, "printString", &big)));
    b.send(false, &ice(&ok(7)));
    b.send(true, &ice(&call(8, "printString", "after")));
    b.send(false, &ice(&ok(8)));
    b.close();
    // B from inside the request: no handshake, not its first segment.
    let b_frames: Vec<Vec<u8>> = b.frames.into_iter().skip(4).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("awkward.pcap");
    let mut w = capture::write::PcapWriter::new(
        std::fs::File::create(&file).unwrap(),
        capture::write::LINKTYPE_ETHERNET,
        262_144,
        capture::write::TsResolution::Micros,
    )
    .unwrap();
    let mut t = std::time::Duration::from_secs(1_700_000_000);
    for f in a.frames.into_iter().chain(b_frames) {
        t += std::time::Duration::from_millis(1);
        w.write_packet(t, f.len() as u32, &f).unwrap();
    }
    w.finish().unwrap();
    let streams = tempfile::tempdir().unwrap();
    let r = analyze(&file, streams.path());
    compare_ice(&file, &r);
    let convs = r["conversations"].as_array().unwrap();
    let summaries = |c: &Value| -> Vec<String> {
        c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["summary"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(summaries(&convs[0]).len(), 11, "{:#?}", summaries(&convs[0]));
    assert_eq!(convs[1]["protocol"], "Ice");
    assert_eq!(
        summaries(&convs[1]),
        [
            "Reply #7 ok",
            "Request #8 printer.printString(\"after\")",
            "Reply #8 ok"
        ]
    );
}

/// The Ice captures of testdata/ice (ZeroC Ice 3.7 programs; what each holds is in its README): every
/// message named, the unknown Bank interface's operations read from the wire, every reply status
/// where the README's dump.py puts it, ValidateConnection and CloseConnection in the lifecycle.
#[test]
fn ice_captures_read_message_for_message() {
    let dir = tempfile::tempdir().unwrap();
    let messages = |r: &Value| -> Vec<Value> {
        r["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["messages"].as_array().unwrap().clone())
            .collect()
    };
    let summaries = |r: &Value| -> Vec<String> {
        messages(r)
            .iter()
            .map(|m| m["summary"].as_str().unwrap().to_string())
            .collect()
    };
    let printer = analyze(&pcap("ice/printer"), dir.path());
    assert_eq!(
        summaries(&printer),
        [
            "ValidateConnection",
            "Request #1 SimplePrinter1.ice_isA(\"::Demo::Printer\") [nonmutating]",
            "Reply #1 ok (true)",
            "Request #2 SimplePrinter1.printString(\"Hello World from printer1!\")",
            "Reply #2 ok",
            "Request #3 SimplePrinter2.ice_isA(\"::Demo::Printer\") [nonmutating]",
            "Reply #3 ok (true)",
            "Request #4 SimplePrinter2.printString(\"Hello World from printer2!\")",
            "Reply #4 ok",
            "CloseConnection",
        ]
    );
    let life = &printer["conversations"][0]["lifecycle"];
    assert_eq!(life["protocol_opened_by"]["message"], "ValidateConnection");
    assert_eq!(life["protocol_opened_by"]["by"], "server");
    assert_eq!(life["protocol_closed_by"]["message"], "CloseConnection");
    assert_eq!(life["protocol_closed_by"]["by"], "client");
    assert_eq!(
        life["summary"],
        "opened with the three-way handshake (SYN, SYN+ACK, ACK), then ValidateConnection from the \
         server; closed by CloseConnection from the client, then FIN from the server, then from the client"
    );

    // The README's reply statuses, by request id (dump.py reads them from the bytes).
    let statuses: BTreeMap<u32, &str> = (1..=7)
        .map(|i| (i, "ok"))
        .chain([
            (8, "user exception"),
            (9, "user exception"),
            (10, "unknown local exception"),
            (11, "unknown exception"),
            (12, "unknown user exception"),
            (13, "object does not exist"),
            (14, "facet does not exist"),
            (15, "operation does not exist"),
            (16, "ok"),
            (17, "ok"),
        ])
        .collect();
    for (name, compressed) in [("ice/bank", 0), ("ice/compressed", 5)] {
        let r = analyze(&pcap(name), dir.path());
        let all = messages(&r);
        assert_eq!(all.len(), 38, "{name}: tshark counts 38 Ice messages");
        for m in &all {
            let s = m["summary"].as_str().unwrap();
            assert_eq!(m["protocol"], "Ice", "{name}: {s}");
            assert!(!s.starts_with("malformed"), "{name}: {s}");
        }
        let field = |m: &Value, k: &str| m["fields"][k].as_str().unwrap_or("").to_string();
        let ops: BTreeSet<String> = all
            .iter()
            .filter(|m| field(m, "type") == "Request")
            .map(|m| field(m, "operation"))
            .collect();
        for op in [
            "ice_isA",
            "ice_ping",
            "ice_id",
            "ice_ids",
            "balance",
            "owner",
            "deposit",
            "withdraw",
            "audit",
            "statement",
        ] {
            assert!(ops.contains(op), "{name}: no call of {op} in {ops:?}");
        }
        let got: BTreeMap<u32, String> = all
            .iter()
            .filter(|m| field(m, "type") == "Reply")
            .map(|m| (field(m, "request_id").parse().unwrap(), field(m, "reply_status")))
            .collect();
        let want: BTreeMap<u32, String> = statuses.iter().map(|(k, v)| (*k, v.to_string())).collect();
        assert_eq!(got, want, "{name}: reply statuses");
        let s = summaries(&r);
        let has = |line: &str| s.iter().any(|x| x.starts_with(line));
        assert!(
            has("Reply #8 user exception ::Bank::Insufficient"),
            "{name}: {s:#?}"
        );
        assert!(
            has("Reply #11 unknown exception: ValueError: a negative deposit"),
            "{name}"
        );
        assert!(has("Reply #12 unknown user exception: ::Bank::Frozen"), "{name}");
        assert!(has("Reply #13 object does not exist (accounts/nobody)"), "{name}");
        assert!(
            has("Reply #14 facet does not exist (accounts/alice [facet x])"),
            "{name}"
        );
        assert!(
            has("Reply #15 operation does not exist (accounts/alice.audit)"),
            "{name}"
        );
        assert!(has("Request #6 accounts/alice.owner() [idempotent"), "{name}");
        assert!(has("Request #14 accounts/alice.balance() [facet x"), "{name}");
        assert!(has("Request #16 accounts/alice.balance() [context k=v"), "{name}");
        assert!(has("Request (oneway) accounts/alice.deposit(4 bytes)"), "{name}");
        assert!(
            has("BatchRequest 3 requests: accounts/alice.deposit(4 bytes), accounts/alice.deposit"),
            "{name}"
        );
        let marked = all.iter().filter(|m| field(m, "compressed") == "true").count();
        assert_eq!(marked, compressed, "{name}: compressed messages (status 2)");
        assert_eq!(
            s.iter().filter(|x| x.ends_with("compressed]")).count(),
            compressed,
            "{name}"
        );
        // Activity: calls per operation, the unknown interface's too.
        let activity: Vec<&str> = r["activity"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["summary"].as_str().unwrap())
            .collect();
        assert!(
            activity.iter().any(|a| a.starts_with("6 call of deposit from")),
            "{name}: {activity:?}"
        );
        assert!(activity
            .iter()
            .any(|a| a.starts_with("1 batched calls of deposit")));
    }
}

/// The omniORB captures of testdata/corba (what each holds is in its README): every message named
/// as the README tells it, CosNaming's names and IORs read, the reply matched to its request, the
/// client's CloseConnection in the lifecycle, the naming service and the server's object in the host
/// notes.
#[test]
fn corba_captures_read_message_for_message() {
    let dir = tempfile::tempdir().unwrap();
    let convs = |r: &Value| -> Vec<Vec<String>> {
        r["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["summary"].as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    let naming = |v: &str, a: u32, b: u32, resolved: &str, answer: &str| -> Vec<String> {
        vec![
            format!(
                "Request #{a} GIOP {v} NameService._is_a(\"IDL:omg.org/CosNaming/NamingContextExt:1.0\")"
            ),
            format!("Reply #{a} GIOP {v} NO_EXCEPTION true"),
            format!("Request #{b} NameService.resolve_str(\"{resolved}\")"),
            format!("Reply #{b} {answer}"),
        ]
    };
    let bind = naming("1.0", 2, 4, "", "")
        .into_iter()
        .take(2)
        .chain([
            "Request #4 NameService.rebind(Hello → IDL:HelloApp/Hello:1.0 at 127.0.0.1:2810)".to_string(),
            "Reply #4 NO_EXCEPTION".to_string(),
        ])
        .collect::<Vec<_>>();
    let found = "NO_EXCEPTION IDL:HelloApp/Hello:1.0 at 127.0.0.1:2810";
    let key = |r: &Value| -> String {
        let m = &r["conversations"][2]["messages"][0];
        assert_eq!(m["fields"]["type"], "LocateRequest", "{m}");
        m["fields"]["object"].as_str().unwrap().to_string()
    };

    let hello = analyze(&pcap("corba/hello"), dir.path());
    let k = key(&hello);
    assert!(
        k.starts_with("fe") && k.ends_with('…'),
        "omniORB's binary POA key, in hex: {k}"
    );
    assert_eq!(
        convs(&hello),
        [
            bind.clone(),
            naming("1.0", 2, 4, "Hello", found),
            vec![
                format!("LocateRequest #2 GIOP 1.2 {k}"),
                "LocateReply #2 GIOP 1.2 OBJECT_HERE".into(),
                format!("Request #4 {k}.sayHello()"),
                "Reply #4 NO_EXCEPTION \"Hello from CORBA Server!\"".into(),
                format!("Request #6 {k}.sayHello()"),
                "Reply #6 NO_EXCEPTION \"Hello from CORBA Server!\"".into(),
                "CloseConnection".into(),
            ],
            vec![],
        ]
    );
    let c = &hello["conversations"][2];
    let life = &c["lifecycle"];
    assert_eq!(life["protocol_closed_by"]["message"], "CloseConnection");
    assert_eq!(life["protocol_closed_by"]["by"], "client");
    assert!(
        life["protocol_opened_by"].is_null(),
        "GIOP has no opening message"
    );
    assert_eq!(
        life["summary"],
        "opened with the three-way handshake (SYN, SYN+ACK, ACK); closed by CloseConnection from the \
         client, then FIN from the client, then from the server"
    );
    let f = &c["messages"][2]["fields"];
    assert_eq!(f["service_contexts"], "CodeSets", "{f}");
    assert_eq!(f["giop_version"], "1.2");
    assert_eq!(f["byte_order"], "little-endian");
    assert!(f["object_key"].as_str().unwrap().starts_with("%fe"), "{f}");
    assert_eq!(c["messages"][3]["fields"]["operation"], "sayHello");
    assert_eq!(
        c["messages"][3]["fields"]["results"],
        "\"Hello from CORBA Server!\""
    );
    let rebind = &hello["conversations"][0]["messages"][2]["fields"];
    assert_eq!(rebind["name"], "Hello");
    assert_eq!(rebind["bound_to"], "IDL:HelloApp/Hello:1.0 at 127.0.0.1:2810");
    let notes: Vec<&str> = hello["hosts"][0]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for note in [
        "CORBA objects called on port 2809: NameService (the naming service)".to_string(),
        format!("CORBA objects called on port 2810: {k} (IDL:HelloApp/Hello:1.0, bound as Hello)"),
        "names bound in the naming service on port 2809: Hello → IDL:HelloApp/Hello:1.0 at 127.0.0.1:2810"
            .to_string(),
    ] {
        assert!(notes.contains(&note.as_str()), "{note}: {notes:#?}");
    }
    let activity: Vec<&str> = hello["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["summary"].as_str().unwrap())
        .collect();
    assert!(
        activity.contains(&"2 call of sayHello from 127.0.0.1 to 127.0.0.1:2810"),
        "{activity:?}"
    );

    let notfound = analyze(&pcap("corba/notfound"), dir.path());
    assert_eq!(
        convs(&notfound)[1],
        naming(
            "1.0",
            2,
            4,
            "Nobody",
            "USER_EXCEPTION IDL:omg.org/CosNaming/NamingContext/NotFound:1.0 (missing_node: Nobody)"
        )
    );
    let m = &notfound["conversations"][1]["messages"][3]["fields"];
    assert_eq!(m["exception"], "IDL:omg.org/CosNaming/NamingContext/NotFound:1.0");
    assert_eq!(m["reply_status"], "USER_EXCEPTION");

    let giop10 = analyze(&pcap("corba/giop10"), dir.path());
    let k = key(&giop10);
    assert_eq!(
        convs(&giop10)[2],
        [
            format!("LocateRequest #2 GIOP 1.0 {k}"),
            "LocateReply #2 GIOP 1.0 OBJECT_HERE".into(),
            format!("Request #4 {k}.sayHello()"),
            "Reply #4 NO_EXCEPTION \"Hello from CORBA Server!\"".to_string(),
        ],
        "GIOP 1.0: no CloseConnection from a client"
    );
    assert!(giop10["conversations"][2]["lifecycle"]["protocol_closed_by"].is_null());

    let big = analyze(&pcap("corba/bigendian"), dir.path());
    assert_eq!(convs(&big)[1], naming("1.0", 1, 2, "Hello", found));
    let c = &big["conversations"][2]["messages"];
    let order = |i: usize| c[i]["fields"]["byte_order"].as_str().unwrap().to_string();
    assert_eq!(
        (order(0), order(1)),
        ("big-endian".into(), "little-endian".into()),
        "sister's big-endian request, omniORB's little-endian reply"
    );
    assert_eq!(
        c[0]["summary"],
        format!(
            "Request #1 GIOP 1.1 {}._is_a(\"IDL:HelloApp/Hello:1.0\")",
            c[0]["fields"]["object"].as_str().unwrap()
        )
    );
    assert_eq!(
        c[3]["summary"],
        "Reply #2 NO_EXCEPTION \"Hello from CORBA Server!\""
    );
}

/// GIOP streams cut awkwardly, checked against tshark: several messages in one segment, a message
/// over four segments, GIOP 1.2 fragments (tshark joins them too), both byte orders and all three
/// versions, a port tshark does not know, and a connection captured from inside a message.
#[test]
fn giop_counts_are_tsharks_on_awkward_streams() {
    use capture::synth::{Conn, Host, Rng};
    use wire::giop::{
        encode_bare, encode_cancel_request, encode_locate_reply, encode_locate_request, encode_reply,
        encode_request, Header, LocateStatus, MessageType, ReplyStatus, RequestHeader, Version, GIOP_1_0,
        GIOP_1_1, GIOP_1_2, HEADER_SIZE,
    };
    let call = |v: Version, le: bool, id: u32, op: &str, text: &str| {
        let h = RequestHeader {
            request_id: id,
            response_expected: true,
            object_key: b"Hello",
            operation: op,
            service_contexts: &[],
        };
        encode_request(v, le, &h, |w| w.string(text))
    };
    let ok = |v: Version, le: bool, id: u32, text: &str| {
        encode_reply(v, le, id, ReplyStatus::NoException, &[], |w| w.string(text))
    };
    // A GIOP 1.2 message cut into its first piece and Fragments of `piece` bytes (a multiple of 8,
    // as §15.4.9 wants).
    let fragments = |whole: &[u8], piece: usize| -> Vec<u8> {
        let h = Header::decode(whole).unwrap();
        let body = &whole[HEADER_SIZE..];
        let chunks: Vec<&[u8]> = body.chunks(piece).collect();
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let mut hd = Header {
                more_fragments: i + 1 < chunks.len(),
                size: 0,
                ..h
            };
            let mut data = Vec::new();
            if i > 0 {
                hd.message_type = MessageType::Fragment;
                data.extend_from_slice(&body[..4]);
            }
            data.extend_from_slice(c);
            hd.size = data.len() as u32;
            hd.encode(&mut out);
            out.extend(data);
        }
        out
    };
    let big = "x".repeat(5000);
    let mut rng = Rng::new(15);
    let (client, server) = (Host::docker(3), Host::docker(2));
    let mut a = Conn::open(&mut rng, client, 40001, server, 23456);
    a.send(
        true,
        &[
            call(GIOP_1_0, true, 1, "a", "1"),
            call(GIOP_1_1, false, 2, "b", "2"),
            call(GIOP_1_2, true, 3, "c", "3"),
            encode_locate_request(GIOP_1_2, false, 4, b"Hello"),
        ]
        .concat(),
    );
    a.send(
        false,
        &[
            ok(GIOP_1_0, false, 1, "1"),
            ok(GIOP_1_1, true, 2, "2"),
            ok(GIOP_1_2, false, 3, "3"),
            encode_locate_reply(GIOP_1_2, true, 4, LocateStatus::ObjectHere, |_| {}),
        ]
        .concat(),
    );
    a.send(true, &call(GIOP_1_2, true, 5, "printString", &big));
    a.send(false, &ok(GIOP_1_2, true, 5, "done"));
    a.send(
        true,
        &fragments(&call(GIOP_1_2, true, 6, "echo", &"y".repeat(300)), 64),
    );
    a.send(false, &fragments(&ok(GIOP_1_2, false, 6, &"y".repeat(300)), 128));
    a.send(
        true,
        &[
            call(GIOP_1_2, true, 7, "slow", "z"),
            encode_cancel_request(GIOP_1_2, true, 7),
        ]
        .concat(),
    );
    a.send(false, &encode_bare(GIOP_1_2, true, MessageType::CloseConnection));
    a.close();
    let mut b = Conn::open(&mut rng, client, 40002, server, 2810);
    b.send(true, &call(GIOP_1_2, true, 8, "printString", &big));
    b.send(false, &ok(GIOP_1_2, true, 8, "a"));
    b.send(true, &call(GIOP_1_2, true, 9, "printString", "after"));
    b.send(false, &ok(GIOP_1_2, true, 9, "b"));
    b.close();
    // B from inside the request: no handshake, not its first segment.
    let b_frames: Vec<Vec<u8>> = b.frames.into_iter().skip(4).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("awkward.pcap");
    let mut w = capture::write::PcapWriter::new(
        std::fs::File::create(&file).unwrap(),
        capture::write::LINKTYPE_ETHERNET,
        262_144,
        capture::write::TsResolution::Micros,
    )
    .unwrap();
    let mut t = std::time::Duration::from_secs(1_700_000_000);
    for f in a.frames.into_iter().chain(b_frames) {
        t += std::time::Duration::from_millis(1);
        w.write_packet(t, f.len() as u32, &f).unwrap();
    }
    w.finish().unwrap();
    let streams = tempfile::tempdir().unwrap();
    let r = analyze(&file, streams.path());
    compare_giop(&file, &r);
    let convs = r["conversations"].as_array().unwrap();
    let summaries = |c: &Value| -> Vec<String> {
        c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["summary"].as_str().unwrap().to_string())
            .collect()
    };
    let s = summaries(&convs[0]);
    assert_eq!(s.len(), 22, "{s:#?}");
    assert!(
        s.iter()
            .any(|x| x.starts_with("Fragment #6 (last of 6: Request #6 Hello.echo(\"yyy")),
        "{s:#?}"
    );
    assert!(
        s.iter()
            .any(|x| x.starts_with("Fragment #6 (last of 3: Reply #6 NO_EXCEPTION \"yyy")),
        "{s:#?}"
    );
    assert_eq!(convs[1]["protocol"], "GIOP");
    assert_eq!(
        summaries(&convs[1]),
        [
            "Reply #8 GIOP 1.2 NO_EXCEPTION \"a\"",
            "Request #9 GIOP 1.2 Hello.printString(\"after\")",
            "Reply #9 NO_EXCEPTION \"b\""
        ]
    );
}

/// What the README of testdata/pcaps says about specific captures, checked.
#[test]
fn lifecycles_are_the_ones_in_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let lc = |name: &str| -> Vec<(String, String, String)> {
        let r = analyze(&pcap(name), dir.path());
        r["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["transport"] == "tcp")
            .map(|c| {
                let l = &c["lifecycle"];
                (
                    l["opened"].as_str().unwrap().to_string(),
                    l["closed"].as_str().unwrap().to_string(),
                    l["zeek_state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    // The publisher's RST,ACK instead of FIN; the subscriber already connected before the capture.
    assert_eq!(
        lc("mqtt__RahmatAramadhan__captureMQTT"),
        [s("handshake", "reset", "RSTO"), s("mid_stream", "fin", "OTH")]
    );
    // A SYN refused with RST (server not up yet), then a clean session.
    assert_eq!(
        lc("tcpreqresp__aryobagus-RAZ__auto-tcp-aryo"),
        [s("refused", "refused", "REJ"), s("handshake", "fin", "SF")]
    );
    assert_eq!(
        lc("tcpreqresp__aishadwiar-hub__reqresp"),
        [s("handshake", "fin", "SF")]
    );
}

#[test]
fn garbage_truncated_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    // Not a capture at all: exit 1 and a clear message.
    let garbage = dir.path().join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let out = util::sister(&["analyze", garbage.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng file"),
        "{out:?}"
    );
    // Missing file.
    let out = util::sister(&["analyze", "/nonexistent/x.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // A capture cut in the middle of a packet: a partial report naming the problem, exit 0.
    let full = std::fs::read(pcap("tcpreqresp__aishadwiar-hub__reqresp")).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &full[..full.len() - 30]).unwrap();
    let out = util::sister(&["analyze", "--format", "json", cut.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["capture"]["packets"], 27);
    assert!(
        r["problems"][0].as_str().unwrap().contains("ends in the middle"),
        "{}",
        r["problems"]
    );
    // Only frames of a link type sister does not decode: the problem is named, exit 1.
    let mut unknown = full[..24].to_vec();
    unknown[20..24].copy_from_slice(&147u32.to_le_bytes());
    unknown.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3]);
    let f = dir.path().join("unknown.pcap");
    std::fs::write(&f, &unknown).unwrap();
    let out = util::sister(&["analyze", f.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("link type 147"),
        "{out:?}"
    );
    // --follow of a conversation that does not exist.
    let out = util::sister(&["analyze", "--follow", "99", cut.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn follow_shows_both_directions_with_boundaries() {
    let out = util::sister(&["analyze", "--follow", "172.18.0.2:2222-172.18.0.3:40792"])
        .arg(pcap("tcpreqresp__aishadwiar-hub__reqresp"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("> hai"), "{text}");
    assert!(text.contains("< Echo: hai"), "{text}");
    assert!(text.contains("< ── echo Echo: 'hai'"), "{text}");
}

/// No mutation of a real capture may crash the analyzer (a bounded, deterministic run in CI; the
/// fuzz/ targets go further).
#[test]
fn mutated_captures_never_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed: u64 = 0x5151_2222;
    let mut next = move || {
        // xorshift64*: deterministic, so a failure is reproducible.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let names = [
        "mqtt__ArsyaDin__MQTT",
        "soap__nadanadhira09__soap",
        "zmq__daptong__zmq",
        "lamport__auliamghfr__lamport",
        "ice/bank",
        "ice/compressed",
        "corba/hello",
        "corba/bigendian",
        "tls/tls12",
        "tls/mosquitto",
    ];
    for (i, name) in names.iter().cycle().take(50).enumerate() {
        let mut bytes = std::fs::read(pcap(name)).unwrap();
        for _ in 0..(1 + next() % 40) {
            let at = (next() as usize) % bytes.len();
            match next() % 4 {
                0 => bytes[at] = next() as u8,
                1 => bytes[at] ^= 1 << (next() % 8),
                2 => {
                    let end = (at + (next() % 64) as usize).min(bytes.len());
                    bytes.drain(at..end);
                }
                _ => {
                    let v = next() as u8;
                    bytes.insert(at, v);
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        let f = dir.path().join(format!("m{i}.pcap"));
        std::fs::write(&f, &bytes).unwrap();
        let out = util::sister(&["analyze", "--format", "json", f.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(1)) && !stderr.contains("panicked"),
            "mutation {i} of {name}: {:?} {stderr}",
            out.status
        );
    }
}

/// The same capture as pcapng and as nanosecond pcap (converted by Wireshark's editcap) gives the same
/// report: the reader's formats agree with each other.
#[test]
fn pcapng_and_nanosecond_pcap_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let src = pcap("mqtt__achmadrzm__mqtt");
    let report = |f: &Path| {
        let out = util::sister(&["analyze", "--format", "json", f.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let c = v["capture"].as_object_mut().unwrap();
        c.remove("files");
        c.remove("formats");
        v
    };
    let original = report(&src);
    for (format, name) in [("pcapng", "x.pcapng"), ("nsecpcap", "x-ns.pcap")] {
        let f = dir.path().join(name);
        tool(
            "editcap",
            &["-F", format, src.to_str().unwrap(), f.to_str().unwrap()],
        );
        assert!(
            report(&f) == original,
            "{format}: the report differs from the pcap one"
        );
    }
}

/// What tshark's reference of a TLS capture (`testdata/tls/FILE.pcap.tshark.txt`, written by
/// capture.sh) and sister's report both say, per direction (0: client → server, 1: back).
#[derive(Debug, Default, PartialEq)]
struct TlsFigures {
    /// Records by content type (20, 21, 22, 23).
    records: [BTreeMap<u8, u64>; 2],
    /// The handshake messages read in the clear, their types in order.
    handshake: [Vec<u8>; 2],
    /// Alerts in the clear: (level, description code).
    alerts: [Vec<(u8, u8)>; 2],
    server_name: String,
    alpn_offered: String,
    /// The ServerHello's (the last one, after a HelloRetryRequest): cipher suite id, version.
    cipher_suite: String,
    version: String,
}

/// tshark's figures, from the saved reference: a TLS 1.3 encrypted record's type is in
/// `opaque_type` (tshark fills it once it knows the connection is 1.3), every other one's in
/// `content_type`; the version chosen is the ServerHello's supported_version, else its version.
fn tshark_tls(name: &str, server_port: u64) -> TlsFigures {
    let path = util::repo().join(format!("testdata/{name}.pcap.tshark.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let mut f = TlsFigures::default();
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        let col = |name: &str| {
            let i = header
                .iter()
                .position(|h| *h == name)
                .unwrap_or_else(|| panic!("no column {name}"));
            cols.get(i).copied().unwrap_or("")
        };
        let list = |name: &str| -> Vec<u64> {
            col(name)
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: {v}")))
                .collect()
        };
        let d = if col("tcp.dstport").parse::<u64>().unwrap() == server_port {
            0
        } else {
            1
        };
        for t in list("tls.record.content_type")
            .into_iter()
            .chain(list("tls.record.opaque_type"))
        {
            *f.records[d].entry(t as u8).or_default() += 1;
        }
        let types = list("tls.handshake.type");
        f.handshake[d].extend(types.iter().map(|&t| t as u8));
        for (l, desc) in list("tls.alert_message.level")
            .into_iter()
            .zip(list("tls.alert_message.desc"))
        {
            f.alerts[d].push((l as u8, desc as u8));
        }
        if d == 0 && types.contains(&1) && f.server_name.is_empty() {
            f.server_name = col("tls.handshake.extensions_server_name").to_string();
            f.alpn_offered = col("tls.handshake.extensions_alpn_str").to_string();
        }
        if d == 1 && types.contains(&2) {
            f.cipher_suite = col("tls.handshake.ciphersuite").to_string();
            let supported = col("tls.handshake.extensions.supported_version");
            f.version = if supported.is_empty() {
                col("tls.handshake.version")
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .to_string()
            } else {
                supported.to_string()
            };
        }
    }
    f
}

/// sister's figures from its JSON report: the record counts of `conversations[].tls`, the
/// messages with a `handshake_type`, the alerts with a `description_code`.
fn sister_tls(r: &Value) -> TlsFigures {
    let convs = r["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 1, "one TLS connection per capture");
    let c = &convs[0];
    assert_eq!(c["protocol"], "TLS");
    assert_eq!(c["messages_omitted"], 0);
    let tls = &c["tls"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut f = TlsFigures::default();
    for (d, key) in ["client_records", "server_records"].iter().enumerate() {
        let n = |k: &str| tls[key][k].as_u64().unwrap();
        assert_eq!(
            n("records"),
            n("change_cipher_spec") + n("alert") + n("handshake") + n("application_data"),
            "{key}: every record has one of the four types"
        );
        for (t, k) in [
            (20, "change_cipher_spec"),
            (21, "alert"),
            (22, "handshake"),
            (23, "application_data"),
        ] {
            if n(k) > 0 {
                f.records[d].insert(t, n(k));
            }
        }
    }
    for m in c["messages"].as_array().unwrap() {
        let d = usize::from(m["direction"] != "client_to_server");
        let fields = &m["fields"];
        if let Some(t) = fields["handshake_type"].as_str() {
            f.handshake[d].push(t.parse().unwrap());
        }
        if let Some(desc) = fields["description_code"].as_str() {
            let level = if fields["level"] == "fatal" { 2 } else { 1 };
            f.alerts[d].push((level, desc.parse().unwrap()));
        }
        if fields["type"] == "ServerHello" {
            f.cipher_suite = text(&fields["cipher_suite_id"]);
        }
    }
    for d in 0..2 {
        assert_eq!(
            tls[["client_records", "server_records"][d]]["handshake_messages"]
                .as_u64()
                .unwrap() as usize,
            f.handshake[d].len(),
            "handshake messages counted = handshake messages listed"
        );
    }
    f.server_name = text(&tls["server_name"]);
    f.alpn_offered = tls["alpn_offered"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect::<Vec<_>>()
        .join(",");
    f.version = match tls["version"].as_str() {
        Some("TLS 1.3") => "0x0304".into(),
        Some("TLS 1.2") => "0x0303".into(),
        Some(other) => other.into(),
        None => String::new(),
    };
    f
}

/// The TLS captures of testdata/tls (what each holds is in its README): sister's records per
/// direction and content type, its handshake messages in the clear (type by type, in order) and
/// its plaintext alerts are tshark's; so are the server name, the ALPN offered, the cipher suite
/// and the version chosen. Then what each capture is about: the certificates of TLS 1.2, the
/// unknown CA, the HelloRetryRequest, the capture that began mid-stream, MQTT's port.
#[test]
fn tls_captures_agree_with_tshark() {
    let dir = tempfile::tempdir().unwrap();
    let mut table = String::new();
    for (name, port) in [
        ("tls/tls13", 4433),
        ("tls/tls12", 8443),
        ("tls/alert", 4433),
        ("tls/hrr", 4433),
        ("tls/midstream", 4433),
        ("tls/mosquitto", 8883),
    ] {
        let r = analyze(&pcap(name), dir.path());
        let ours = sister_tls(&r);
        let theirs = tshark_tls(name, port);
        assert_eq!(ours, theirs, "{name}: sister (left) vs tshark (right)");
        let n = |m: &BTreeMap<u8, u64>| m.values().sum::<u64>();
        table.push_str(&format!(
            "{name}: records {}/{} (23: {}/{}), handshake messages {}/{}, plaintext alerts {}/{}\n",
            n(&ours.records[0]),
            n(&ours.records[1]),
            ours.records[0].get(&23).unwrap_or(&0),
            ours.records[1].get(&23).unwrap_or(&0),
            ours.handshake[0].len(),
            ours.handshake[1].len(),
            ours.alerts[0].len(),
            ours.alerts[1].len(),
        ));
        let tls = &r["conversations"][0]["tls"];
        let summary = tls["summary"].as_str().unwrap();
        match name {
            "tls/tls13" => {
                assert_eq!(tls["alpn_offered"][0], "mqtt");
                assert!(tls.get("alpn").is_none(), "1.3 sends the chosen ALPN encrypted");
                assert_eq!(tls["cipher_suite"], "TLS_AES_256_GCM_SHA384");
                assert_eq!(tls["key_exchange_group"], "x25519");
                assert!(tls["certificates"].as_array().unwrap().is_empty());
                assert!(summary.contains("In TLS 1.3 everything after the ServerHello is encrypted"));
            }
            "tls/tls12" => {
                assert_eq!(tls["alpn"], "http/1.1");
                assert_eq!(tls["cipher_suite"], "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
                let certs = tls["certificates"].as_array().unwrap();
                assert_eq!(certs.len(), 2);
                assert_eq!(certs[0]["subject"], "CN=localhost");
                assert_eq!(certs[0]["issuer"], "CN=sister lab CA");
                assert_eq!(
                    certs[0]["alt_names"],
                    serde_json::json!(["localhost", "127.0.0.1"])
                );
                assert_eq!(certs[1]["subject"], "CN=sister lab CA");
                assert!(certs[0]["not_after"].as_str().unwrap() > certs[0]["not_before"].as_str().unwrap());
                assert!(
                    summary.starts_with("TLS 1.2 (port 8443 suggests HTTP over TLS):"),
                    "{summary}"
                );
                assert!(
                    summary.contains("the server's certificate (CN=localhost, issued by CN=sister lab CA)")
                );
                // Both sides close with close_notify, encrypted after their ChangeCipherSpec.
                let alerts = tls["alerts"].as_array().unwrap();
                assert_eq!(alerts.len(), 2);
                assert!(alerts.iter().all(|a| a["encrypted"] == true));
            }
            "tls/alert" => {
                assert_eq!(ours.alerts[0], [(2, 48)], "the client's fatal unknown_ca");
                assert_eq!(tls["client_records"]["application_data"], 0);
                assert!(
                    summary.ends_with("The connection failed: the client sent the fatal alert unknown_ca.")
                );
                let life = &r["conversations"][0]["lifecycle"]["protocol_closed_by"];
                assert_eq!(
                    (&life["message"], &life["by"]),
                    (&"Alert".into(), &"client".into())
                );
            }
            "tls/hrr" => {
                assert_eq!(tls["hello_retry_request"], true);
                assert_eq!(tls["key_exchange_group"], "secp256r1");
                assert_eq!(
                    ours.handshake,
                    [vec![1, 1], vec![2, 2]],
                    "two ClientHellos, HRR + ServerHello"
                );
            }
            "tls/midstream" => {
                assert!(tls.get("version").is_none() && tls.get("server_name").is_none());
                assert_eq!(r["conversations"][0]["lifecycle"]["opened"], "mid_stream");
                assert!(summary.starts_with("TLS: the handshake was not captured"));
            }
            "tls/mosquitto" => {
                assert_eq!(tls["port_suggests"], "MQTT");
                assert!(summary
                    .starts_with("TLS 1.3 (port 8883 suggests MQTT over TLS): the server name `localhost`"));
                let notes = r["hosts"][0]["notes"].as_array().unwrap();
                assert!(
                    notes
                        .iter()
                        .any(|n| n
                            == "TLS server on port 8883 (the port suggests MQTT over TLS) for 127.0.0.1"),
                    "{notes:?}"
                );
            }
            _ => unreachable!(),
        }
    }
    eprintln!("sister = tshark, client→server/server→client:\n{table}");
}

/// A session already open when the capture began, whose PUBLISH packets are printable and longer than
/// 64 bytes (testdata/mqtt/README.md): MQTT in both connections, message for message as tshark.
#[test]
fn a_mid_stream_session_with_printable_publishes_is_mqtt_as_tshark_reads_it() {
    let file = util::repo().join("testdata/mqtt/midstream-printable.pcap");
    let streams = tempfile::tempdir().unwrap();
    let r = analyze(&file, streams.path());
    let convs = r["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 2);
    for c in convs {
        assert_eq!(c["protocol"], "MQTT", "{c}");
    }
    let count = |kind: &str| {
        convs
            .iter()
            .flat_map(|c| c["messages"].as_array().unwrap())
            .filter(|m| m["fields"]["type"] == kind)
            .count()
    };
    assert_eq!((count("PUBLISH"), count("DISCONNECT")), (10, 2));
    compare_mqtt(&file, &r);
}
