//! `sister analyze --format svg|md` end to end: the files a student gets, in both languages, with names.

use crate::util::{repo, sister};

fn pcap(name: &str) -> String {
    repo().join("testdata/pcaps").join(name).display().to_string()
}

#[test]
fn markdown_with_the_diagram_next_to_it_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("names.txt");
    std::fs::write(
        &names,
        "# MQTT lab\n172.18.0.2 mqtt-broker\n172.18.0.3 mqtt-pub\n172.18.0.4 mqtt-sub\n",
    )
    .unwrap();
    let md = dir.path().join("mqtt.md");
    let out = sister(&[
        "analyze",
        "--format",
        "md",
        "--lang",
        "id",
        "--no-docker",
        "--names",
    ])
    .arg(&names)
    .arg("-o")
    .arg(&md)
    .arg(pcap("mqtt__ArsyaDin__MQTT.pcap"))
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("## Analisis capture: mqtt__ArsyaDin__MQTT.pcap"),
        "{text}"
    );
    assert!(text.contains("![Diagram urutan](mqtt.svg)"), "{text}");
    assert!(
        text.contains("mqtt-sub (172.18.0.4:49285) → mqtt-broker (172.18.0.2:1883)"),
        "{text}"
    );
    let svg = std::fs::read_to_string(dir.path().join("mqtt.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(">mqtt-pub<"), "{svg}");
}

#[test]
fn svg_on_stdout_and_inline_markdown() {
    let out = sister(&[
        "analyze",
        "--format",
        "svg",
        "--no-docker",
        &pcap("udp__aishadwiar-hub__udp4.pcap"),
    ])
    .output()
    .unwrap();
    assert!(out.status.success());
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.trim_end().ends_with("</svg>")
    );

    let out = sister(&[
        "analyze",
        "--format",
        "md",
        "--no-docker",
        &pcap("udp__aishadwiar-hub__udp4.pcap"),
    ])
    .output()
    .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.starts_with("## Capture analysis:") && md.contains("<div>\n<svg"),
        "{md}"
    );
}

#[test]
fn bad_language_and_names_file_are_explained() {
    let out = sister(&[
        "analyze",
        "--format",
        "md",
        "--lang",
        "fr",
        &pcap("udp__aishadwiar-hub__udp4.pcap"),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`id`"));

    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("names.txt");
    std::fs::write(&names, "172.18.0.2 server\nserver 172.18.0.3\n").unwrap();
    let out = sister(&["analyze", "--format", "md", "--no-docker", "--names"])
        .arg(&names)
        .arg(pcap("udp__aishadwiar-hub__udp4.pcap"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 2") && err.contains("IP NAME"), "{err}");

    let out = sister(&["analyze", "-o", "x.txt", &pcap("udp__aishadwiar-hub__udp4.pcap")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn text_and_json_name_the_hosts_too() {
    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("names.txt");
    std::fs::write(&names, "172.18.0.2 mqtt-broker\n172.18.0.4 mqtt-sub\n").unwrap();
    let run = |format: &str| {
        let out = sister(&["analyze", "--format", format, "--no-docker", "--names"])
            .arg(&names)
            .arg(pcap("mqtt__ArsyaDin__MQTT.pcap"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run("text");
    assert!(text.contains("\n  mqtt-broker (172.18.0.2) "), "{text}");
    assert!(
        text.contains(" TCP mqtt-sub (172.18.0.4:49285) → mqtt-broker (172.18.0.2:1883)  MQTT"),
        "{text}"
    );
    // A host without a name stays an address.
    assert!(text.contains("\n  172.18.0.3 "), "{text}");

    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let name_of = |addr: &str| {
        let hosts = json["hosts"].as_array().unwrap();
        let h = hosts.iter().find(|h| h["addr"] == addr).unwrap();
        h.get("name").cloned()
    };
    assert_eq!(name_of("172.18.0.2"), Some("mqtt-broker".into()));
    assert_eq!(name_of("172.18.0.4"), Some("mqtt-sub".into()));
    assert_eq!(name_of("172.18.0.3"), None, "no name: no field");
}

#[test]
fn tls_sentence_in_indonesian_and_arrows_in_the_svg() {
    let tls = |f: &str| repo().join("testdata/tls").join(f).display().to_string();
    let out = sister(&[
        "analyze",
        "--format",
        "md",
        "--lang",
        "id",
        "--no-docker",
        &tls("mosquitto.pcap"),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("TLS 1.3 (port 8883 menunjukkan MQTT di atas TLS): nama server `localhost`"),
        "{md}"
    );
    assert!(md.contains("isinya tidak dapat dibaca tanpa kunci sesi."), "{md}");
    let out = sister(&["analyze", "--format", "svg", "--no-docker", &tls("alert.pcap")])
        .output()
        .unwrap();
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(
        svg.contains(">ClientHello (SNI localhost") && svg.contains(">Alert fatal unknown_ca<"),
        "{svg}"
    );
}
