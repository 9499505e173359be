//! The SVG sequence diagram and the Markdown findings of real student captures (testdata/pcaps), as
//! snapshot tests (insta): a change in what the renderers write shows up as a diff to review
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test -p sister-analyze --test render`).
//!
//! `RENDER_PREVIEW=DIR` also writes each rendered file to DIR, to look at them in a browser.

use analyze::render::{markdown, svg, Lang, Names, Options};

/// A capture of testdata/pcaps (`mqtt__ArsyaDin__MQTT.pcap`) or of another folder of testdata
/// (`ice/printer.pcap`).
fn report(file: &str) -> analyze::report::Report {
    let folder = if file.contains('/') { "" } else { "pcaps/" };
    let path = format!("{}/../../testdata/{folder}{file}", env!("CARGO_MANIFEST_DIR"));
    let analysis = analyze::analyze_files(&[path], &analyze::Options::default()).expect("analysis");
    let mut r = analysis.report;
    // Snapshots must not depend on where the repository is.
    r.capture.files = vec![file.to_string()];
    r
}

fn preview(name: &str, content: &str) {
    if let Some(dir) = std::env::var_os("RENDER_PREVIEW") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), content).unwrap();
    }
}

/// The names a student would give the hosts of the MQTT lab (as Docker would: the compose services).
fn mqtt_names() -> Names {
    Names::parse("172.18.0.2 mqtt-broker\n172.18.0.3 mqtt-pub\n172.18.0.4 mqtt-sub\n").unwrap()
}

fn check_svg(svg: &str) {
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{}",
        &svg[..80]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    // Well-formed enough for a browser: every element we open is closed.
    for tag in ["g", "text", "title", "defs", "marker"] {
        let open = svg.matches(&format!("<{tag}>")).count() + svg.matches(&format!("<{tag} ")).count();
        let close = svg.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
}

#[test]
fn mqtt_full_lifecycle_svg_and_md() {
    let r = report("mqtt__ArsyaDin__MQTT.pcap");
    let opts = Options {
        names: mqtt_names(),
        ..Options::default()
    };
    let s = svg::render(&r, &opts);
    check_svg(&s);
    // Hosts by name, handshake and both teardowns visible.
    assert!(s.contains(">mqtt-broker<") && s.contains(">mqtt-pub<") && s.contains(">mqtt-sub<"));
    assert!(s.contains(">SYN<") && s.contains(">SYN, ACK<"));
    assert!(
        s.contains(">FIN, ACK<") && s.contains(">RST, ACK<"),
        "publisher reset, subscriber FIN"
    );
    preview("mqtt-arsyadin.svg", &s);
    insta::assert_snapshot!("mqtt_arsyadin_svg", s);
    let md = markdown::render(&r, &opts, &markdown::Diagram::Link("mqtt.svg".into()));
    assert!(md.contains("mqtt-sub (172.18.0.4"), "{md}");
    assert!(md.contains("![Sequence diagram](mqtt.svg)"));
    preview("mqtt-arsyadin.md", &md);
    insta::assert_snapshot!("mqtt_arsyadin_md", md);
}

#[test]
fn mqtt_in_indonesian() {
    let r = report("mqtt__ArsyaDin__MQTT.pcap");
    let opts = Options {
        lang: Lang::Id,
        names: mqtt_names(),
        ..Options::default()
    };
    let md = markdown::render(&r, &opts, &markdown::Diagram::Link("mqtt.svg".into()));
    assert!(md.contains("## Analisis capture:"), "{md}");
    assert!(md.contains("Bagaimana setiap koneksi dibuka dan ditutup"), "{md}");
    // Wireshark's terms are kept.
    assert!(md.contains("FIN, ACK") && md.contains("RST"), "{md}");
    preview("mqtt-arsyadin.id.md", &md);
    insta::assert_snapshot!("mqtt_arsyadin_md_id", md);
    let s = svg::render(&r, &opts);
    check_svg(&s);
    assert!(s.contains("Diagram urutan"));
}

#[test]
fn long_mqtt_capture_folds_repeats() {
    // 2124 packets over 254 s (SLL2, every packet twice): must fold into a readable page.
    let r = report("mqtt__RahmatAramadhan__captureMQTT.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    assert!(s.contains("×"), "repeats folded");
    let rows = s.matches("<g><title>").count();
    assert!(rows < 120, "{rows} rows: too many for a page");
    preview("mqtt-rahmat.svg", &s);
    insta::assert_snapshot!("mqtt_rahmat_svg", s);
}

#[test]
fn rest_and_refused_connection() {
    let r = report("rest__nadanadhira09__rest.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    preview("rest.svg", &s);
    insta::assert_snapshot!("rest_svg", s);
    let md = markdown::render(&r, &Options::default(), &markdown::Diagram::None);
    preview("rest.md", &md);
    insta::assert_snapshot!("rest_md", md);

    let r = report("tcpreqresp__aryobagus-RAZ__auto-tcp-aryo.pcap");
    let md = markdown::render(&r, &Options::default(), &markdown::Diagram::None);
    assert!(md.contains("refused"), "{md}");
    preview("reqresp-refused.md", &md);
    insta::assert_snapshot!("reqresp_refused_md", md);
    let s = svg::render(&r, &Options::default());
    preview("reqresp-refused.svg", &s);
    insta::assert_snapshot!("reqresp_refused_svg", s);
}

#[test]
fn zmq_three_patterns() {
    let r = report("zmq__daptong__zmq.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    preview("zmq.svg", &s);
    insta::assert_snapshot!("zmq_svg", s);
    let md = markdown::render(
        &r,
        &Options {
            lang: Lang::Id,
            ..Options::default()
        },
        &markdown::Diagram::Link("zmq.svg".into()),
    );
    preview("zmq.id.md", &md);
    insta::assert_snapshot!("zmq_md_id", md);
}

#[test]
fn ice_printer_in_both_languages() {
    let r = report("ice/printer.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    // The session's own opening and closing are arrows, like every message, with Wireshark's names in
    // their tooltips.
    assert!(
        s.contains(">ValidateConnection<") && s.contains(">CloseConnection<"),
        "{s}"
    );
    assert!(s.contains("(Wireshark: Validate connection)"));
    assert!(s.contains(">Reply #2 ok<"));
    preview("ice-printer.svg", &s);
    insta::assert_snapshot!("ice_printer_svg", s);
    let md = markdown::render(&r, &Options::default(), &markdown::Diagram::None);
    assert!(
        md.contains("then ValidateConnection from the server; CloseConnection from the client, then closed"),
        "{md}"
    );
    preview("ice-printer.md", &md);
    insta::assert_snapshot!("ice_printer_md", md);
    let id = Options {
        lang: Lang::Id,
        ..Options::default()
    };
    let md = markdown::render(&r, &id, &markdown::Diagram::Link("ice.svg".into()));
    assert!(
        md.contains(
            "lalu ValidateConnection dari server; CloseConnection dari klien, lalu ditutup dengan baik"
        ),
        "{md}"
    );
    preview("ice-printer.id.md", &md);
    insta::assert_snapshot!("ice_printer_md_id", md);
}

#[test]
fn ice_bank_every_reply_status() {
    let r = report("ice/bank.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    for label in [
        "user exception ::Bank::Insufficient",
        "object does not exist",
        "BatchRequest 3 requests",
    ] {
        assert!(s.contains(label), "{label}");
    }
    preview("ice-bank.svg", &s);
    insta::assert_snapshot!("ice_bank_svg", s);
}

#[test]
fn corba_hello_in_both_languages() {
    let r = report("corba/hello.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    // The client's CloseConnection is an arrow like every message; the calls and their replies too.
    assert!(s.contains(">CloseConnection<"), "{s}");
    assert!(
        s.contains("NameService.resolve_str(&quot;Hello&quot;)")
            || s.contains("NameService.resolve_str(\"Hello\")"),
        "{s}"
    );
    assert!(s.contains("Hello from CORBA Server!"), "{s}");
    preview("corba-hello.svg", &s);
    insta::assert_snapshot!("corba_hello_svg", s);
    let md = markdown::render(&r, &Options::default(), &markdown::Diagram::None);
    assert!(
        md.contains("CloseConnection from the client, then closed"),
        "{md}"
    );
    preview("corba-hello.md", &md);
    insta::assert_snapshot!("corba_hello_md", md);
    let id = Options {
        lang: Lang::Id,
        ..Options::default()
    };
    let md = markdown::render(&r, &id, &markdown::Diagram::Link("corba.svg".into()));
    assert!(
        md.contains("CloseConnection dari klien, lalu ditutup dengan baik"),
        "{md}"
    );
    preview("corba-hello.id.md", &md);
    insta::assert_snapshot!("corba_hello_md_id", md);
    let s = svg::render(&r, &id);
    check_svg(&s);
    assert!(s.contains("Diagram urutan") && s.contains(">CloseConnection<"));
}

#[test]
fn corba_notfound_svg() {
    let r = report("corba/notfound.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    assert!(
        s.contains("USER_EXCEPTION IDL:omg.org/CosNaming/NamingContext/NotFound:1.0"),
        "{s}"
    );
    preview("corba-notfound.svg", &s);
    insta::assert_snapshot!("corba_notfound_svg", s);
}

#[test]
fn tls12_in_both_languages() {
    let r = report("tls/tls12.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    // Every handshake message is an arrow of its own, TLS's colour and arrowhead with it; the
    // tooltips name what Wireshark's Info column shows.
    for name in [
        "ClientHello",
        "ServerHello",
        "Certificate",
        "ServerKeyExchange",
        "ServerHelloDone",
    ] {
        assert!(s.contains(&format!(">{name}")), "{name}: {s}");
    }
    assert!(s.contains(r##"<marker id="a4d7c0f""##) && s.contains(r##"stroke="#4d7c0f""##));
    assert!(s.contains("(Wireshark: Encrypted Handshake Message)"), "{s}");
    preview("tls12.svg", &s);
    insta::assert_snapshot!("tls12_svg", s);
    let md = markdown::render(&r, &Options::default(), &markdown::Diagram::None);
    assert!(md.contains("### What TLS lets one see"), "{md}");
    assert!(
        md.contains("TLS 1.2 (port 8443 suggests HTTP over TLS): the server name `localhost`"),
        "{md}"
    );
    preview("tls12.md", &md);
    insta::assert_snapshot!("tls12_md", md);
    let id = Options {
        lang: Lang::Id,
        ..Options::default()
    };
    let md = markdown::render(&r, &id, &markdown::Diagram::Link("tls12.svg".into()));
    assert!(md.contains("### Apa yang terlihat dari TLS"), "{md}");
    assert!(
        md.contains(
            "TLS 1.2 (port 8443 menunjukkan HTTP di atas TLS): nama server `localhost`, protokol aplikasi \
             `http/1.1` (ALPN), cipher TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, sertifikat server \
             (CN=localhost, diterbitkan oleh CN=sister lab CA), serta ukuran dan waktu 10 record \
             terenkripsi terlihat; isinya tidak dapat dibaca tanpa kunci sesi."
        ),
        "{md}"
    );
    preview("tls12.id.md", &md);
    insta::assert_snapshot!("tls12_md_id", md);
}

#[test]
fn mqtt_over_tls_and_a_capture_begun_mid_stream() {
    let r = report("tls/mosquitto.pcap");
    let id = Options {
        lang: Lang::Id,
        ..Options::default()
    };
    let md = markdown::render(&r, &id, &markdown::Diagram::None);
    assert!(
        md.contains(
            "TLS 1.3 (port 8883 menunjukkan MQTT di atas TLS): nama server `localhost`, cipher \
             TLS_AES_256_GCM_SHA384, serta ukuran dan waktu 18 record terenkripsi terlihat; isinya tidak \
             dapat dibaca tanpa kunci sesi. Pada TLS 1.3 semua yang dikirim setelah ServerHello \
             terenkripsi, termasuk sertifikat server."
        ),
        "{md}"
    );
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    // The server's first encrypted run (the rest of its handshake) is one arrow.
    assert!(s.contains(">application data ×4 (1993 bytes"), "{s}");
    let r = report("tls/midstream.pcap");
    let s = svg::render(&r, &Options::default());
    check_svg(&s);
    assert!(!s.contains(">SYN<"), "no handshake in a capture begun mid-stream");
    assert!(s.contains(">application data (22 bytes)<"), "{s}");
    preview("tls-midstream.svg", &s);
    insta::assert_snapshot!("tls_midstream_svg", s);
}
