//! `check` on the real student captures of testdata/pcaps (the same files as the course's fixtures,
//! described in testdata/pcaps/README.md), the project's Ice, CORBA and mid-stream MQTT captures, and
//! small captures of the faults made here with sister's pcap writer (`capture::synth`'s real TCP
//! conversations): an empty file, only ARP, a capture started mid-stream, one stopped before the
//! close, a misnamed file, traffic of the computer's own, topics that do not match.

use std::io::Cursor;
use std::time::Duration;

use capture::synth::{self, Conn, Host, Rng};
use capture::write::{PcapWriter, TsResolution, LINKTYPE_ETHERNET};

use super::*;
use crate::report::Report;

/// The report of a capture in testdata (`pcaps/mqtt__ArsyaDin__MQTT`, `ice/printer`).
fn real(name: &str) -> Report {
    let path = format!("{}/../../testdata/{name}.pcap", env!("CARGO_MANIFEST_DIR"));
    crate::analyze_files(&[&path], &crate::Options::default())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .report
}

fn real_check(name: &str) -> CaptureCheck {
    let file = name.rsplit('/').next().unwrap_or(name);
    check(&real(name), &format!("{file}.pcap"), None, Lang::En)
}

/// The names of the failed checks.
fn failed(c: &CaptureCheck) -> Vec<&'static str> {
    c.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect()
}

fn named<'a>(c: &'a CaptureCheck, name: &str) -> &'a Check {
    c.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {c:#?}"))
}

/// Frames into a pcap file's bytes, 10 ms apart.
fn pcap(frames: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, 65535, TsResolution::Micros).unwrap();
    for (i, f) in frames.into_iter().enumerate() {
        let ts = Duration::from_millis(1_700_000_000_000 + 10 * i as u64);
        w.write_packet(ts, f.len() as u32, &f).unwrap();
    }
    w.finish().unwrap()
}

/// The analyzer's report of a pcap file's bytes, read as `sister analyze` reads a file.
fn report_of(bytes: Vec<u8>) -> Report {
    let mut reader = capture::read::Reader::new(Cursor::new(bytes)).unwrap();
    let mut a = crate::Analyzer::new(crate::Options::default());
    while let Some(p) = reader.next_packet().unwrap() {
        a.packet(&p);
    }
    a.finish().0
}

/// An ARP request `Who has <target>? Tell <sender>`.
fn arp(sender: Host, target: Host) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&sender.mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&sender.mac);
    f.extend_from_slice(&sender.ip);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.ip);
    f
}

/// The course's MQTT exchange: a subscriber on `sub_topic`, a publisher sending three messages to
/// `pub_topic`, forwarded when they match; both clients end with DISCONNECT and FIN.
fn mqtt_frames(sub_topic: &str, pub_topic: &str) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(7);
    let (broker, publisher, subscriber) = (Host::docker(2), Host::docker(3), Host::docker(4));
    let mut sub = Conn::open(&mut rng, subscriber, 49285, broker, 1883);
    sub.send(true, &synth::mqtt_connect(""));
    sub.send(false, &synth::mqtt_connack());
    sub.send(true, &synth::mqtt_subscribe(1, sub_topic));
    sub.send(false, &synth::mqtt_suback(1));
    let mut publ = Conn::open(&mut rng, publisher, 36141, broker, 1883);
    publ.send(true, &synth::mqtt_connect(""));
    publ.send(false, &synth::mqtt_connack());
    for _ in 0..3 {
        publ.send(true, &synth::mqtt_publish(pub_topic, "Suhu: 28°C".as_bytes()));
        if wire::mqtt::topic::matches(sub_topic, pub_topic) {
            sub.send(false, &synth::mqtt_publish(pub_topic, "Suhu: 28°C".as_bytes()));
        }
    }
    publ.send(true, &synth::mqtt_disconnect());
    publ.close();
    sub.send(true, &synth::mqtt_disconnect());
    sub.close();
    sub.frames.into_iter().chain(publ.frames).collect()
}

/// The course's echo exchange on 2222: `hello` answered by `Echo: hello`, then the close.
fn echo_conn(rng: &mut Rng, cport: u16) -> Conn {
    let mut c = Conn::open(rng, Host::docker(3), cport, Host::docker(2), 2222);
    c.send(true, b"hello");
    c.send(false, b"Echo: hello");
    c
}

// ---------------------------------------------------------------------------------------------
// The real captures: every one gets its pattern, and exactly the checks that should fail do.

#[test]
fn real_captures_get_their_pattern_and_their_faults() {
    #[rustfmt::skip]
    let expected: [(&str, Pattern, &[&str]); 16] = [
        ("pcaps/jsonrpc__aauliariza__rpc", Pattern::Rpc, &[]),
        // Port 12345 like ZeroMQ PUB/SUB and UDP: the JSON with timestamps says Lamport.
        ("pcaps/lamport__auliamghfr__lamport", Pattern::Lamport, &[]),
        // The publisher's RST after DISCONNECT is paho-mqtt's way, not a capture fault.
        ("pcaps/mqtt__ArsyaDin__MQTT", Pattern::Mqtt, &[]),
        // -i any, and the subscriber was connected before the capture started.
        ("pcaps/mqtt__RahmatAramadhan__captureMQTT", Pattern::Mqtt, &["handshake", "connect", "subscribe"]),
        ("pcaps/mqtt__achmadrzm__mqtt", Pattern::Mqtt, &[]),
        ("pcaps/rest__nadanadhira09__rest", Pattern::Rest, &[]),
        ("pcaps/soap__nadanadhira09__soap", Pattern::Soap, &[]),
        ("pcaps/tcpreqresp__aishadwiar-hub__reqresp", Pattern::Reqresp, &[]),
        // The first SYN was refused: the server was not up yet.
        ("pcaps/tcpreqresp__aryobagus-RAZ__auto-tcp-aryo", Pattern::Reqresp, &["server-ready"]),
        ("pcaps/udp__aishadwiar-hub__udp4", Pattern::Udp, &[]),
        // One-way datagrams to 12345/udp: the course's one-way pattern is TCP on 3131.
        ("pcaps/udp__aryobagus-RAZ__oneway-coba-aryo", Pattern::Oneway, &["port"]),
        ("pcaps/upcall__aishadwiar-hub__upcall5", Pattern::Upcall, &[]),
        ("pcaps/zmq__daptong__zmq", Pattern::Zmq, &[]),
        ("ice/printer", Pattern::Ice, &[]),
        ("corba/hello", Pattern::Corba, &[]),
        // Both connections were open before the capture started.
        ("mqtt/midstream-printable", Pattern::Mqtt, &["handshake", "connect", "subscribe"]),
    ];
    for (name, pattern, faults) in expected {
        let c = real_check(name);
        assert_eq!(c.pattern, pattern, "{name}: {c:#?}");
        assert_eq!(failed(&c), faults, "{name}: {c:#?}");
        assert_eq!(c.all_passed(), faults.is_empty(), "{name}");
        assert_eq!(c.checks_total, c.checks.len());
        assert_eq!(c.checks_passed + faults.len(), c.checks_total, "{name}");
        for check in &c.checks {
            assert!(
                !check.detail.is_empty() && !check.title.is_empty(),
                "{name}: {check:?}"
            );
            assert_eq!(check.fault.is_some(), !check.passed, "{name}: {check:?}");
        }
    }
}

#[test]
fn each_pattern_gets_its_own_checks() {
    let names =
        |name: &str| -> Vec<&'static str> { real_check(name).checks.iter().map(|c| c.name).collect() };
    assert_eq!(
        names("pcaps/mqtt__ArsyaDin__MQTT"),
        [
            "readable",
            "lab-traffic",
            "file-name",
            "port",
            "server-ready",
            "handshake",
            "connect",
            "subscribe",
            "publish",
            "forwarded",
            "disconnect",
            "close"
        ]
    );
    assert_eq!(
        names("pcaps/udp__aishadwiar-hub__udp4"),
        [
            "readable",
            "lab-traffic",
            "file-name",
            "port",
            "requests",
            "replies"
        ]
    );
    assert_eq!(
        names("pcaps/soap__nadanadhira09__soap"),
        [
            "readable",
            "lab-traffic",
            "file-name",
            "port",
            "server-ready",
            "handshake",
            "wsdl",
            "envelope",
            "response",
            "close"
        ]
    );
    assert!(names("ice/printer").contains(&"validate-connection"));
    assert!(names("ice/printer").contains(&"close-connection"));
    assert!(names("pcaps/lamport__auliamghfr__lamport").contains(&"clock"));
    assert!(names("pcaps/zmq__daptong__zmq").contains(&"greeting"));
    // A name without a protocol in it gets no file-name check.
    assert!(!names("ice/printer").contains(&"file-name"));
}

#[test]
fn rahmat_capture_says_mid_stream_and_any_duplicates() {
    let c = real_check("pcaps/mqtt__RahmatAramadhan__captureMQTT");
    let hs = named(&c, "handshake");
    assert_eq!(hs.fault.as_deref(), Some("capture started mid-stream"));
    assert!(hs.detail.contains("172.20.0.4:51987"), "{}", hs.detail);
    assert!(hs.detail.contains("start tcpdump before"), "{}", hs.detail);
    assert!(named(&c, "subscribe").detail.contains("already connected"));
    // Forwards reach the subscriber even though its SUBSCRIBE is not in the capture.
    assert!(named(&c, "forwarded").passed);
    let note = c
        .notes
        .iter()
        .find(|n| n.name == "cooked-duplicates")
        .expect("the -i any note");
    assert!(
        note.detail.contains("twice") && note.detail.contains("1062"),
        "{}",
        note.detail
    );
    assert!(note.detail.contains("br-"), "{}", note.detail);
    // An Ethernet capture of the bridge gets no such note.
    assert!(real_check("pcaps/mqtt__ArsyaDin__MQTT").notes.is_empty());
}

#[test]
fn refused_first_connection_names_the_server_not_up() {
    let c = real_check("pcaps/tcpreqresp__aryobagus-RAZ__auto-tcp-aryo");
    let ready = named(&c, "server-ready");
    assert_eq!(
        ready.fault.as_deref(),
        Some("connection refused (server not up yet)")
    );
    assert!(
        ready.detail.starts_with("the first connection"),
        "{}",
        ready.detail
    );
    assert!(
        ready.detail.contains("start the server first"),
        "{}",
        ready.detail
    );
    // The refused attempt belongs to the pattern, but is not counted as a connection that opened.
    assert!(named(&c, "handshake").passed);
    assert!(named(&c, "close").detail.starts_with("1 connection"));
}

#[test]
fn one_way_udp_is_oneway_not_the_udp_pattern() {
    let c = real_check("pcaps/udp__aryobagus-RAZ__oneway-coba-aryo");
    let port = named(&c, "port");
    assert!(
        port.detail.contains("12345/udp") && port.detail.contains("3131/tcp"),
        "{}",
        port.detail
    );
    assert!(named(&c, "one-way").detail.contains("nothing back"));
    // Its name says udp and oneway: both fit one-way datagrams.
    assert!(named(&c, "file-name").passed);
    // No TCP, so no handshake or close to check.
    assert!(!c
        .checks
        .iter()
        .any(|c| c.name == "handshake" || c.name == "close"));
}

#[test]
fn indonesian_sentences() {
    let report = real("pcaps/mqtt__RahmatAramadhan__captureMQTT");
    let c = check(&report, "captureMQTT.pcap", None, Lang::Id);
    assert_eq!(c.pattern_title, "MQTT publish/subscribe");
    let hs = named(&c, "handshake");
    assert_eq!(hs.fault.as_deref(), Some("capture dimulai di tengah koneksi"));
    assert!(
        hs.detail.contains("jalankan tcpdump sebelum klien"),
        "{}",
        hs.detail
    );
    assert!(c.notes[0].detail.contains("dua kali"), "{}", c.notes[0].detail);
    // The same checks, only their words differ.
    let en = check(&report, "captureMQTT.pcap", None, Lang::En);
    let names = |c: &CaptureCheck| c.checks.iter().map(|x| (x.name, x.passed)).collect::<Vec<_>>();
    assert_eq!(names(&c), names(&en));
    assert_ne!(named(&c, "port").detail, named(&en, "port").detail);
}

// ---------------------------------------------------------------------------------------------
// The faults, as small captures of their own.

#[test]
fn empty_file_and_file_without_packets() {
    let empty = crate::Error::Read {
        path: "mqtt.pcap".into(),
        source: capture::read::ReadError::Empty,
    };
    let c = unreadable("mqtt.pcap", &empty, Lang::En);
    assert_eq!(c.pattern, Pattern::None);
    assert_eq!(failed(&c), ["readable"]);
    assert_eq!(c.checks[0].fault.as_deref(), Some("empty file"));
    assert!(c.checks[0].detail.contains("0 bytes"));
    let garbage = crate::Error::Read {
        path: "notes.pcap".into(),
        source: capture::read::ReadError::NotACapture(b"Hell".to_vec()),
    };
    let c = unreadable("notes.pcap", &garbage, Lang::En);
    assert_eq!(c.checks[0].fault.as_deref(), Some("not a readable capture"));
    // A pcap header and nothing after it.
    let c = check(&report_of(pcap([])), "mqtt.pcap", None, Lang::En);
    assert_eq!(failed(&c), ["readable"]);
    assert_eq!(c.checks[0].fault.as_deref(), Some("no packets"));
}

#[test]
fn only_arp_is_the_wrong_interface() {
    let frames = [
        arp(Host::docker(3), Host::docker(2)),
        arp(Host::docker(2), Host::docker(3)),
    ];
    let c = check(&report_of(pcap(frames)), "mqtt.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::None);
    assert_eq!(failed(&c), ["lab-traffic"]);
    let traffic = named(&c, "lab-traffic");
    assert_eq!(traffic.fault.as_deref(), Some("only ARP (wrong interface)"));
    assert!(traffic.detail.contains("ARP (2 frames)"), "{}", traffic.detail);
    assert!(traffic.detail.contains("named after mqtt"), "{}", traffic.detail);
    assert!(traffic.detail.contains("br-"), "{}", traffic.detail);
}

#[test]
fn the_computers_own_traffic_is_not_the_labs() {
    // HTTPS to a public address and DNS: what eth0 or wlan0 carry.
    let mut rng = Rng::new(3);
    let me = Host::docker(3);
    let web = Host {
        mac: [2, 0, 0, 0, 0, 1],
        ip: [93, 184, 215, 14],
    };
    let mut tls = Conn::open(&mut rng, me, 50000, web, 443);
    tls.send(true, &[0x16, 3, 1, 0, 4, 1, 0, 0, 0]);
    tls.send(false, &[0x16, 3, 3, 0, 4, 2, 0, 0, 0]);
    tls.close();
    let c = check(&report_of(pcap(tls.frames)), "rest.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::None);
    let traffic = named(&c, "lab-traffic");
    assert_eq!(
        traffic.fault.as_deref(),
        Some("nothing on the lab's ports (wrong interface)")
    );
    assert!(traffic.detail.contains("443/tcp"), "{}", traffic.detail);
}

#[test]
fn capture_started_mid_stream() {
    let mut rng = Rng::new(1);
    let mut c = echo_conn(&mut rng, 40792);
    c.close();
    // tcpdump started after the client connected: the handshake is not in the file.
    let frames: Vec<Vec<u8>> = c.frames.into_iter().skip(3).collect();
    let c = check(&report_of(pcap(frames)), "reqresp.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::Reqresp);
    assert_eq!(failed(&c), ["handshake"]);
    assert_eq!(
        named(&c, "handshake").fault.as_deref(),
        Some("capture started mid-stream")
    );
}

#[test]
fn capture_stopped_before_close() {
    let mut rng = Rng::new(2);
    let c = echo_conn(&mut rng, 40800);
    let c = check(&report_of(pcap(c.frames)), "reqresp.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::Reqresp);
    assert_eq!(failed(&c), ["close"]);
    let close = named(&c, "close");
    assert_eq!(close.fault.as_deref(), Some("capture stopped before close"));
    assert!(
        close.detail.contains("stop tcpdump only after"),
        "{}",
        close.detail
    );
}

#[test]
fn whole_echo_exchange_passes() {
    let mut rng = Rng::new(4);
    let mut c = echo_conn(&mut rng, 40810);
    c.close();
    let c = check(&report_of(pcap(c.frames)), "reqresp.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::Reqresp);
    assert!(c.all_passed(), "{c:#?}");
}

#[test]
fn misnamed_file() {
    let report = report_of(pcap(mqtt_frames("sister/temp", "sister/temp")));
    let c = check(&report, "soap.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::Mqtt);
    assert_eq!(failed(&c), ["file-name"]);
    let name = named(&c, "file-name");
    assert_eq!(name.fault.as_deref(), Some("file named after another protocol"));
    assert!(
        name.detail
            .contains("soap.pcap is named after soap but holds mqtt"),
        "{}",
        name.detail
    );
    // The same capture under its own name passes everything, and under no protocol's name gets no
    // file-name check at all.
    assert!(check(&report, "mqtt.pcap", None, Lang::En).all_passed());
    let plain = check(&report, "capture-1.pcap", None, Lang::En);
    assert!(plain.all_passed() && !plain.checks.iter().any(|c| c.name == "file-name"));
}

#[test]
fn topics_that_do_not_match() {
    // Worksheet step 3: a subscriber on kesehatan receives nothing from a publisher on gaming.
    let report = report_of(pcap(mqtt_frames(
        "sister/channel/kesehatan",
        "sister/channel/gaming",
    )));
    let c = check(&report, "mqtt.pcap", None, Lang::En);
    assert_eq!(failed(&c), ["forwarded"]);
    let fwd = named(&c, "forwarded");
    assert_eq!(fwd.fault.as_deref(), Some("topics do not match"));
    assert!(fwd.detail.contains("sister/channel/kesehatan"), "{}", fwd.detail);
    assert!(fwd.detail.contains("sister/channel/gaming"), "{}", fwd.detail);
    // With a wildcard that matches, the broker forwards and the check passes.
    let report = report_of(pcap(mqtt_frames("sister/channel/+", "sister/channel/gaming")));
    assert!(check(&report, "mqtt.pcap", None, Lang::En).all_passed());
}

#[test]
fn unanswered_syn_and_refusal_without_any_data() {
    // Only a SYN to 2222 answered by RST, ACK: the pattern comes from the port, the checks say why.
    let (client, server) = (Host::docker(3), Host::docker(2));
    let frames = [
        synth::tcp_frame(&client, 38850, &server, 2222, 1000, 0, 0x02, &[]),
        synth::tcp_frame(&server, 2222, &client, 38850, 0, 1001, 0x14, &[]),
    ];
    let c = check(&report_of(pcap(frames)), "reqresp.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::Reqresp);
    assert_eq!(
        named(&c, "server-ready").fault.as_deref(),
        Some("connection refused (server not up yet)")
    );
    assert!(!named(&c, "requests").passed);
    // A SYN nobody answered.
    let frames = [synth::tcp_frame(
        &client,
        38852,
        &server,
        4141,
        1000,
        0,
        0x02,
        &[],
    )];
    let c = check(&report_of(pcap(frames)), "upcall.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::Upcall);
    assert_eq!(named(&c, "server-ready").fault.as_deref(), Some("SYN unanswered"));
}

/// A ZooKeeper session on `port`: the ConnectRequest (length 44, protocol version 0, zxid, timeout
/// 30000, session 0, a 16-byte password) and a ConnectResponse.
fn zookeeper_frames(port: u16) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(5);
    let mut zk = Conn::open(&mut rng, Host::docker(3), 51000, Host::docker(2), port);
    let mut connect = vec![0, 0, 0, 44, 0, 0, 0, 0];
    connect.extend_from_slice(&[0; 8]);
    connect.extend_from_slice(&30000u32.to_be_bytes());
    connect.extend_from_slice(&[0; 8]);
    connect.extend_from_slice(&[0, 0, 0, 16]);
    connect.extend_from_slice(&[0; 16]);
    zk.send(true, &connect);
    zk.send(false, &[0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0x75, 0x30]);
    zk.close();
    zk.frames.into_iter().collect()
}

#[test]
fn zookeeper_by_its_port_or_its_connect_request() {
    let c = check(
        &report_of(pcap(zookeeper_frames(2181))),
        "zk-election.pcap",
        None,
        Lang::En,
    );
    assert_eq!(c.pattern, Pattern::Zk);
    assert!(c.all_passed(), "{c:#?}");
    // Moved to another port, the ConnectRequest still says ZooKeeper (and the port check says it moved).
    let moved = report_of(pcap(zookeeper_frames(2888)));
    let c = check(&moved, "zk.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::Zk, "{:#?}", moved.conversations);
    assert_eq!(failed(&c), ["port"]);
}

#[test]
fn lamport_clock_rule_broken() {
    let mut rng = Rng::new(6);
    let mut l = Conn::open(&mut rng, Host::docker(3), 50810, Host::docker(2), 12345);
    l.send(
        false,
        br#"{"message": "Add $100", "balance": 1100, "timestamp": 5}"#,
    );
    // Received 5, then sent 3: the receiver did not move its clock past what it received.
    l.send(
        true,
        br#"{"message": "Subtract $50", "balance": 1050, "timestamp": 3}"#,
    );
    l.close();
    let c = check(&report_of(pcap(l.frames)), "lamport.pcap", None, Lang::En);
    assert_eq!(c.pattern, Pattern::Lamport);
    assert_eq!(failed(&c), ["clock"]);
    assert!(named(&c, "clock").detail.contains("received 5 and then sent 3"));
}

// ---------------------------------------------------------------------------------------------
// --expect and the class table.

#[test]
fn expectations_on_top() {
    let arsya = real("pcaps/mqtt__ArsyaDin__MQTT");
    let e = Expect::parse("pattern = \"mqtt\"\ntopic = \"sister/temp/*\"\nmin_messages = 20\n").unwrap();
    let c = check(&arsya, "MQTT.pcap", Some(&e), Lang::En);
    assert!(c.all_passed(), "{c:#?}");
    assert!(named(&c, "expect-topic").detail.contains("sister/temp/athonk"));
    let e = Expect::parse(
        "topics = [\"sister/channel/*\", \"sister/+/athonk\"]\nmin_messages = 1000\nport = 1884\n",
    )
    .unwrap();
    let c = check(&arsya, "MQTT.pcap", Some(&e), Lang::En);
    assert_eq!(failed(&c), ["port", "expect-topic", "expect-min-messages"]);
    assert!(named(&c, "port").detail.contains("--expect asks for 1884/tcp"));
    let soap = real("pcaps/soap__nadanadhira09__soap");
    let e = Expect::parse("pattern = \"soap\"\nsoap_result = -500\n").unwrap();
    let c = check(&soap, "soap.pcap", Some(&e), Lang::En);
    assert_eq!(failed(&c), ["expect-soap-result"]);
    assert!(named(&c, "expect-soap-result").detail.contains("results: 15"));
    let e = Expect::parse("soap_result = 15\npattern = \"rest\"").unwrap();
    assert_eq!(
        failed(&check(&soap, "soap.pcap", Some(&e), Lang::En)),
        ["expect-pattern"]
    );
    // --expect's port also lifts the course's transport: one-way datagrams on 12345 on purpose.
    let oneway = real("pcaps/udp__aryobagus-RAZ__oneway-coba-aryo");
    let e = Expect::parse("port = 12345").unwrap();
    assert!(check(&oneway, "oneway.pcap", Some(&e), Lang::En).all_passed());
}

#[test]
fn class_table_and_summary() {
    let names = [
        "pcaps/mqtt__ArsyaDin__MQTT",
        "pcaps/mqtt__RahmatAramadhan__captureMQTT",
        "pcaps/tcpreqresp__aryobagus-RAZ__auto-tcp-aryo",
        "mqtt/midstream-printable",
    ];
    let checks: Vec<CaptureCheck> = names.iter().map(|n| real_check(n)).collect();
    let s = class::summary(&checks);
    assert_eq!((s.captures, s.all_passed), (4, 1));
    assert_eq!(s.patterns[0].pattern, Pattern::Mqtt);
    assert_eq!(s.patterns[0].captures, 3);
    assert_eq!(s.faults[0].fault, "capture started mid-stream");
    assert_eq!(s.faults[0].captures, 2);
    let md = class::markdown(&checks, "class", Lang::En);
    assert!(
        md.contains("| mqtt__ArsyaDin__MQTT.pcap | mqtt | 12/12 | – | – |"),
        "{md}"
    );
    assert!(
        md.contains("| mqtt__RahmatAramadhan__captureMQTT.pcap | mqtt | 9/12 | capture started mid-stream; no CONNECT; no SUBSCRIBE | -i any: every packet twice |"),
        "{md}"
    );
    assert!(md.contains("| capture started mid-stream | 2 |"), "{md}");
    assert!(
        md.contains("| connection refused (server not up yet) | 1 |"),
        "{md}"
    );
    assert!(md.contains("| mqtt | 3 |\n| reqresp | 1 |"), "{md}");
    assert!(md.contains("1 of 4 captures passed every check."), "{md}");
    let csv = class::csv(&checks, Lang::En);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("file,pattern,checks_passed,checks_total,faults,notes")
    );
    assert_eq!(lines.next(), Some("mqtt__ArsyaDin__MQTT.pcap,mqtt,12,12,,"));
    assert_eq!(csv.lines().count(), 5);
    let checks_id: Vec<CaptureCheck> = names.iter().map(|n| check(&real(n), n, None, Lang::Id)).collect();
    let md_id = class::markdown(&checks_id, "kelas", Lang::Id);
    assert!(
        md_id.contains("## Ringkasan") && md_id.contains("capture dimulai di tengah koneksi"),
        "{md_id}"
    );
}

#[test]
fn names_that_name_a_protocol() {
    use super::faults::name_claims;
    assert_eq!(
        name_claims("mqtt__RahmatAramadhan__captureMQTT.pcap"),
        [Pattern::Mqtt]
    );
    assert_eq!(
        name_claims("tcpreqresp__aishadwiar-hub__reqresp.pcap"),
        [Pattern::Reqresp]
    );
    assert_eq!(
        name_claims("udp__aryobagus-RAZ__oneway-coba-aryo.pcap"),
        [Pattern::Oneway, Pattern::Udp]
    );
    assert_eq!(name_claims("dir/udp4.pcap"), [Pattern::Udp]);
    assert_eq!(name_claims("jsonrpc__aauliariza__rpc.pcap"), [Pattern::Rpc]);
    assert_eq!(name_claims("ZeroMQ-tugas.pcapng"), [Pattern::Zmq]);
    assert_eq!(name_claims("Ice_printer.pcap"), [Pattern::Ice]);
    // Short words only as words: no REST in "interest", no Ice in "device".
    assert!(name_claims("interesting-device.pcap").is_empty());
    assert!(name_claims("capture.pcap").is_empty());
}

/// MQTT over TLS (Mosquitto on 8883, testdata/tls): the pattern is MQTT, and the checks that need
/// the packets give way to one saying they are encrypted, which is not the capture's fault.
#[test]
fn mqtt_over_tls_says_the_packets_are_encrypted() {
    let c = real_check("tls/mosquitto");
    assert_eq!(c.pattern, Pattern::Mqtt);
    let e = named(&c, "encrypted");
    assert!(e.passed && e.detail.contains("encrypted"), "{e:?}");
    for n in ["connect", "subscribe", "publish", "forwarded", "disconnect"] {
        assert!(
            c.checks.iter().all(|k| k.name != n),
            "{n} cannot be seen inside TLS: {:?}",
            c.checks
        );
    }
    // What TLS does not hide is still checked: the port and the handshake.
    assert!(named(&c, "port").passed, "{:?}", named(&c, "port"));
    assert!(named(&c, "handshake").passed, "{:?}", named(&c, "handshake"));
}
