//! `sister web`'s capture view: the API against the CLI (byte for byte), its refusals (too large,
//! not a capture, cut short, a name that tries to leave the temporary directory), and the page in a
//! real browser (headless Chromium) on the course's real captures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::util::{self, browser, start_web};

/// One HTTP/1.1 request (the server closes after it); the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..end]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = answer[end + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + size]);
        b = &b[line_end + 2 + size + 2..];
    }
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// `sister analyze --format json NAME` run in `dir` (so the report names the file `NAME`).
fn cli_json(dir: &Path, name: &str, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["analyze", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(name);
    let out = util::sister(&args).current_dir(dir).output().unwrap();
    assert!(
        out.status.success(),
        "sister analyze {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn upload(addr: &str, name: &str, data: &[u8], keep: bool) -> (u16, Vec<u8>) {
    let q = format!(
        "/api/analyze?name={}{}",
        name.replace('/', "%2F"),
        if keep { "&keep=1" } else { "" }
    );
    http(addr, "POST", &q, data)
}

/// The course's captures and the lab's protocol captures: POST /api/analyze prints what the CLI
/// prints, byte for byte (hosts named without Docker on both sides, and once with it on both).
#[test]
fn the_api_answers_what_sister_analyze_prints() {
    let (_web, addr) = start_web(&["--no-docker"]);
    let files = [
        "testdata/pcaps/mqtt__ArsyaDin__MQTT.pcap",
        "testdata/pcaps/mqtt__RahmatAramadhan__captureMQTT.pcap",
        "testdata/pcaps/rest__nadanadhira09__rest.pcap",
        "testdata/pcaps/soap__nadanadhira09__soap.pcap",
        "testdata/pcaps/zmq__daptong__zmq.pcap",
        "testdata/pcaps/udp__aishadwiar-hub__udp4.pcap",
        "testdata/ice/printer.pcap",
        "testdata/corba/hello.pcap",
        "testdata/tls/tls13.pcap",
        "testdata/mqtt/midstream-printable.pcap",
    ];
    for f in files {
        let path = util::repo().join(f);
        let name = path.file_name().unwrap().to_str().unwrap();
        let cli = cli_json(path.parent().unwrap(), name, &["--no-docker"]);
        let (status, api) = upload(&addr, name, &std::fs::read(&path).unwrap(), false);
        assert_eq!(status, 200, "{f}: {}", String::from_utf8_lossy(&api));
        assert!(api == cli, "{f}: the API's report differs from the CLI's");
    }

    // A capture cut short after some packets: a partial report, its problem naming the file as the
    // user named it (not our temporary path), as the CLI names it.
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(util::repo().join(files[0])).unwrap();
    std::fs::write(dir.path().join("cut.pcap"), &whole[..whole.len() / 2]).unwrap();
    let cli = cli_json(dir.path(), "cut.pcap", &["--no-docker"]);
    let (status, api) = upload(&addr, "cut.pcap", &whole[..whole.len() / 2], false);
    assert_eq!(status, 200);
    assert!(api == cli, "cut.pcap: API and CLI differ");
    let problems = json(&api)["problems"].to_string();
    assert!(
        problems.contains("cut.pcap: the file ends in the middle"),
        "{problems}"
    );

    // With Docker asked on both sides (as both do by default), still the same bytes.
    let (_web2, addr2) = start_web(&[]);
    let path = util::repo().join(files[0]);
    let cli = cli_json(path.parent().unwrap(), "mqtt__ArsyaDin__MQTT.pcap", &[]);
    let (_, api) = upload(
        &addr2,
        "mqtt__ArsyaDin__MQTT.pcap",
        &std::fs::read(&path).unwrap(),
        false,
    );
    assert!(api == cli, "with Docker: API and CLI differ");
}

#[test]
fn uploads_over_the_limit_bad_files_and_cut_files_are_refused_in_one_sentence() {
    let (_web, addr) = start_web(&["--no-docker", "--upload-limit", "1"]);
    // 413 with the limit, after reading what the client sent (so it gets the answer, not a reset).
    let (status, body) = upload(&addr, "big.pcap", &vec![0u8; 3 << 20], false);
    assert_eq!(status, 413);
    let e = json(&body)["error"].as_str().unwrap().to_string();
    assert!(e.contains("1 MiB") && e.contains("--upload-limit"), "{e}");

    // Not a capture: one sentence, the user's file name, no temporary path, said once.
    let (status, body) = upload(&addr, "notes.txt", b"these are my notes, not a capture\n", true);
    assert_eq!(status, 400);
    let e = json(&body)["error"].as_str().unwrap().to_string();
    assert!(e.starts_with("notes.txt: not a pcap or pcapng file"), "{e}");
    assert_eq!(e.matches("not a pcap").count(), 1, "{e}");
    assert!(!e.contains("/tmp") && !e.contains(".tmp"), "{e}");

    // Cut short inside its first packet: nothing to report, an error naming the file.
    let whole = std::fs::read(util::repo().join("testdata/pcaps/udp__aishadwiar-hub__udp4.pcap")).unwrap();
    let (status, body) = upload(&addr, "short.pcap", &whole[..30], true);
    assert_eq!(status, 400);
    let e = json(&body)["error"].as_str().unwrap().to_string();
    assert!(e.starts_with("short.pcap: the file ends in the middle"), "{e}");
    assert!(!e.contains("/tmp"), "{e}");

    // A corrupt record header (an absurd length) in the middle: a partial report, never a dead server.
    let mut bad = std::fs::read(util::repo().join("testdata/pcaps/mqtt__ArsyaDin__MQTT.pcap")).unwrap();
    let first_len = u32::from_le_bytes(bad[24 + 8..24 + 12].try_into().unwrap()) as usize;
    let second = 24 + 16 + first_len;
    bad[second + 8..second + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let (status, _) = upload(&addr, "corrupt.pcap", &bad, true);
    assert!(status == 200 || status == 400, "{status}");
    let (status, body) = http(&addr, "GET", "/api/info", b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // None of the refused files was kept.
    let (_, list) = http(&addr, "GET", "/api/captures", b"");
    assert!(!String::from_utf8_lossy(&list).contains("notes.txt"));
}

/// `?name=` is only a name: a path in it cannot place the file outside the private directory.
#[test]
fn a_name_with_a_path_stays_in_the_temporary_directory() {
    let (_web, addr) = start_web(&["--no-docker"]);
    let unique = format!("sister-traversal-{}.pcap", std::process::id());
    let outside = std::env::temp_dir().join(&unique);
    let _ = std::fs::remove_file(&outside);
    let name = format!("../../../../../{}/{unique}", std::env::temp_dir().display());
    let data = std::fs::read(util::repo().join("testdata/pcaps/udp__aishadwiar-hub__udp4.pcap")).unwrap();
    let (status, body) = upload(&addr, &name, &data, true);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!outside.exists(), "{} was written", outside.display());
    // The kept file is in a private directory of ours, under its last component only.
    let kept: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("sister-web-"))
        .map(|e| e.path().join(&unique))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(kept[0].parent().unwrap())
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "the directory is private");
}

/// The stream file `sister analyze --streams` writes for one direction of a conversation (tcpflow's
/// name), for comparing a message's bytes with what the page shows.
fn stream_bytes(file: &Path, conv: &Value, from_client: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (status, _, err) = util::run_sister(
        &["analyze", "--no-docker", "--streams", d, file.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert!(status.success(), "{err}");
    let ep = |e: &Value| {
        let a: std::net::IpAddr = e["addr"].as_str().unwrap().parse().unwrap();
        std::net::SocketAddr::new(a, e["port"].as_u64().unwrap() as u16)
    };
    let (src, dst) = if from_client {
        (ep(&conv["client"]), ep(&conv["server"]))
    } else {
        (ep(&conv["server"]), ep(&conv["client"]))
    };
    std::fs::read(dir.path().join(analyze::flow::tcpflow_name(src, dst))).unwrap()
}

#[test]
fn the_page_draws_an_mqtt_capture_shows_a_message_and_filters() {
    let file = util::repo().join("testdata/pcaps/mqtt__ArsyaDin__MQTT.pcap");
    let (_web, addr) = start_web(&["--no-docker", "--pcap", file.to_str().unwrap()]);
    let report = json(&cli_json(
        file.parent().unwrap(),
        "mqtt__ArsyaDin__MQTT.pcap",
        &["--no-docker"],
    ));
    let b = browser::launch();
    let tab = browser::open(&b, &format!("http://{addr}/#capture"));
    browser::wait_js(
        &tab,
        "document.querySelectorAll('.flow-row:not([hidden])').length > 5",
        Duration::from_secs(20),
    );

    // Host columns: the three hosts of the capture.
    let columns = browser::text(&tab, ".flow-head");
    for host in ["172.18.0.2", "172.18.0.3", "172.18.0.4"] {
        assert!(columns.contains(host), "{columns}");
    }
    assert!(columns.contains("broker"), "{columns}");
    // Every arrow's label is the analyzer's summary of a message, or a TCP step.
    let summaries: Vec<String> = report["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["messages"].as_array().unwrap().iter())
        .map(|m| m["summary"].as_str().unwrap().to_string())
        .collect();
    let labels: Vec<String> = serde_json::from_value(browser::js(
        &tab,
        "[...document.querySelectorAll('.flow-row:not([hidden]) .label')].map(l => l.textContent)",
    ))
    .unwrap();
    assert!(labels.len() > 5, "{labels:?}");
    for l in &labels {
        assert!(
            summaries.contains(l) || ["SYN", "SYN, ACK", "ACK", "FIN, ACK", "RST, ACK"].contains(&l.as_str()),
            "arrow {l:?} is not a summary of the analyzer"
        );
    }
    assert!(labels.iter().any(|l| l.starts_with("CONNECT ")), "{labels:?}");

    // Click the publisher's CONNECT: its fields, and its bytes in hex, which start with 0x10.
    let row = browser::js(
        &tab,
        "[...document.querySelectorAll('.flow-row:not([hidden])')].findIndex(r => r.querySelector('.label').textContent.startsWith('CONNECT '))",
    );
    let selector = format!(".flow-row:nth-child({})", row.as_u64().unwrap() + 1);
    browser::click(&tab, &selector);
    browser::wait_text(&tab, ".capture-detail", "client_id", Duration::from_secs(20));
    let hex = browser::wait_text(&tab, ".capture-detail .hex", "0000", Duration::from_secs(20));
    assert!(hex.starts_with("0000  10 "), "{hex}");
    // The bytes are the message's: its offset and length in the client's reassembled stream.
    let conv = &report["conversations"][0];
    let connect = &conv["messages"][0];
    assert!(connect["summary"].as_str().unwrap().starts_with("CONNECT"));
    let stream = stream_bytes(&file, conv, true);
    let (off, len) = (
        connect["offset"].as_u64().unwrap() as usize,
        connect["len"].as_u64().unwrap() as usize,
    );
    let want: String = stream[off..off + len]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let shown: String = hex
        .lines()
        .flat_map(|l| l[6..].split("  ").take(2).collect::<Vec<_>>())
        .collect::<String>()
        .replace(' ', "");
    assert_eq!(shown, want);

    // Filtering by protocol: without TCP's handshakes and teardowns, only MQTT arrows are left.
    let before = browser::js(&tab, "window.sisterCaptureRendered.events")
        .as_u64()
        .unwrap();
    browser::click(&tab, ".capture-protocols input[value=TCP]");
    browser::wait_js(
        &tab,
        &format!("window.sisterCaptureRendered.events < {before}"),
        Duration::from_secs(10),
    );
    let labels: Vec<String> = serde_json::from_value(browser::js(
        &tab,
        "[...document.querySelectorAll('.flow-row:not([hidden]) .label')].map(l => l.textContent)",
    ))
    .unwrap();
    assert!(
        !labels.is_empty() && labels.iter().all(|l| summaries.contains(l)),
        "{labels:?}"
    );

    // A folded block opens into the arrows it stands for.
    let rows = browser::js(&tab, "window.sisterCaptureRendered.rows")
        .as_u64()
        .unwrap();
    if browser::js(
        &tab,
        "!!document.querySelector('.flow-row:not([hidden]) .fold:not([hidden])')",
    ) == Value::Bool(true)
    {
        browser::click(&tab, ".flow-row:not([hidden]) .fold:not([hidden])");
        browser::wait_js(
            &tab,
            &format!("parseFloat(document.querySelector('.flow-space').style.height) > {rows} * 26"),
            Duration::from_secs(5),
        );
    }
}

#[test]
fn a_file_chosen_on_the_page_is_analyzed_and_a_bad_one_is_explained() {
    let (_web, addr) = start_web(&["--no-docker"]);
    let b = browser::launch();
    let tab = browser::open(&b, &format!("http://{addr}/#capture"));
    browser::wait_text(&tab, ".capture-none", "No capture", Duration::from_secs(10));
    let file = util::repo().join("testdata/pcaps/tcpreqresp__aishadwiar-hub__reqresp.pcap");
    tab.wait_for_element(".capture-file")
        .unwrap()
        .set_input_files(&[file.to_str().unwrap()])
        .unwrap();
    browser::wait_text(
        &tab,
        ".capture-summary",
        "tcpreqresp__aishadwiar-hub__reqresp.pcap",
        Duration::from_secs(20),
    );
    browser::wait_text(&tab, ".flow-rows", "Echo: 'hai'", Duration::from_secs(10));
    let (_, list) = http(&addr, "GET", "/api/captures", b"");
    assert_eq!(json(&list).as_array().unwrap().len(), 1);

    // A file that is not a capture: the sentence on the page, and the server still answers.
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not a capture at all\n").unwrap();
    tab.wait_for_element(".capture-file")
        .unwrap()
        .set_input_files(&[notes.to_str().unwrap()])
        .unwrap();
    let e = browser::wait_text(
        &tab,
        ".capture-error",
        "notes.txt: not a pcap or pcapng file",
        Duration::from_secs(20),
    );
    assert!(!e.contains("/tmp"), "{e}");
    let (status, _) = http(&addr, "GET", "/api/info", b"");
    assert_eq!(status, 200);

    // Dropped on the page (a DataTransfer made in the page, as a drop from the desktop delivers it).
    browser::js(
        &tab,
        r#"(() => { const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array([1,2,3,4,5,6,7,8])], "dropped.bin"));
            document.querySelector('#view-capture').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
            return true; })()"#,
    );
    browser::wait_text(
        &tab,
        ".capture-error",
        "dropped.bin: not a pcap",
        Duration::from_secs(20),
    );
}
