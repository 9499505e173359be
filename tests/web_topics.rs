//! The topic tree of `sister web` (issue 17) in a real browser (headless Chromium), fed by real
//! brokers: sister's own `sister mqtt broker` and Mosquitto ("any broker"), with messages from
//! `sister mqtt pub` and from paho-mqtt (tests/peers/mqtt_web_pub.py).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use headless_chrome::Tab;
use serde_json::{json, Value};

use crate::util::{self, browser, Proc};

const LONG: Duration = Duration::from_secs(20);
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// `sister mqtt broker` on a free loopback port; its HOST:PORT.
fn sister_broker() -> (Proc, String) {
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let p = util::spawn_sister("sister mqtt broker", &["mqtt", "broker", "--bind", &bind]);
    util::wait_for_tcp(util::local(port), LONG);
    (p, bind)
}

/// Mosquitto on a free loopback port, anonymous, in memory (the course's broker); its HOST:PORT.
fn mosquitto() -> (Proc, String, tempfile::TempDir) {
    assert!(
        Path::new(MOSQUITTO).exists(),
        "{MOSQUITTO} is missing: run ./.ci/run (it installs the Debian package `mosquitto`)"
    );
    let port = util::free_tcp_port();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .unwrap();
    let mut cmd = Command::new(MOSQUITTO);
    cmd.arg("-c").arg(&conf);
    let p = Proc::spawn("mosquitto", cmd);
    util::wait_for_tcp(util::local(port), LONG);
    (p, format!("127.0.0.1:{port}"), dir)
}

/// `sister mqtt pub` one message and wait for it to finish.
fn sister_pub(server: &str, args: &[&str]) {
    let mut all = vec!["mqtt", "pub", "--server", server];
    all.extend_from_slice(args);
    let (status, out, err) = util::run_sister(&all, LONG);
    assert!(status.success(), "sister mqtt pub {args:?}: {out}{err}");
}

/// paho-mqtt publishes (QoS 1, waited for): see tests/peers/mqtt_web_pub.py.
fn paho_pub(server: &str, args: &[&str]) {
    let (host, port) = server.split_once(':').unwrap();
    let script = util::repo().join("tests/peers/mqtt_web_pub.py");
    let mut all = vec![script.to_str().unwrap(), host, port];
    all.extend_from_slice(args);
    let out = util::python(Some("paho.mqtt.client"), &all).output().unwrap();
    assert!(
        out.status.success(),
        "mqtt_web_pub.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sister web --broker SERVER ...` on a free port, once it follows the broker; its URL.
fn start_web(server: &str, args: &[&str]) -> (Proc, String) {
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut all = vec!["web", "--bind", bind.as_str(), "--broker", server];
    all.extend_from_slice(args);
    let mut p = util::spawn_sister("sister web", &all);
    p.wait_for_line("open http://", LONG);
    p.wait_for_line("following", LONG);
    (p, format!("http://{bind}/"))
}

/// A JavaScript string literal.
fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The row of `path` (an expression: the element or null).
fn row(path: &str) -> String {
    format!(
        "[...document.querySelectorAll('.trow')].find(r => !r.hidden && r.dataset.path === {})",
        lit(path)
    )
}

/// The paths of the rows on screen, in order.
fn shown_paths(tab: &Tab) -> Vec<String> {
    let v = browser::js(
        tab,
        "[...document.querySelectorAll('.trow')].filter(r => !r.hidden)
           .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
           .map(r => r.dataset.path)",
    );
    serde_json::from_value(v).unwrap()
}

fn wait_row_text(tab: &Tab, path: &str, needle: &str) {
    browser::wait_js(
        tab,
        &format!(
            "({r} || {{innerText: ''}}).innerText.includes({n})",
            r = row(path),
            n = lit(needle)
        ),
        LONG,
    );
}

/// Record every row that gets the `flash` class from now on (a flash lasts half a second: polling
/// could miss it, a MutationObserver cannot).
fn watch_flashes(tab: &Tab) {
    browser::js(
        tab,
        "(() => { window.flashed = new Set();
           new MutationObserver(ms => { for (const m of ms) if (m.target.classList.contains('flash')) flashed.add(m.target.dataset.path); })
             .observe(document.querySelector('.tlist'), { subtree: true, attributes: true, attributeFilter: ['class'] });
           return true; })()",
    );
}

fn set_filter(tab: &Tab, text: &str) {
    browser::js(
        tab,
        &format!(
            "(() => {{ const f = document.querySelector('.tfilter'); f.value = {}; f.dispatchEvent(new Event('input')); return true; }})()",
            lit(text)
        ),
    );
}

#[test]
fn web_topics_retained_at_load_then_live_with_counts_flash_filter_history_and_plot() {
    let (_broker, server) = sister_broker();
    sister_pub(&server, &["-t", "sister/temp", "-m", "Suhu: 28°C", "-r"]);
    sister_pub(&server, &["-t", "sister/status", "-m", "online", "-r"]);
    sister_pub(&server, &["-t", "lab/room/1", "-m", "kosong", "-r"]);
    // --qos 2: the history shows each publisher's QoS (messages arrive at the lower of theirs and the
    // subscription's, §3.8.4).
    let (_web, url) = start_web(&server, &["--qos", "2"]);
    let b = browser::launch();
    let tab = browser::open(&b, &url);

    // The retained messages are in the tree at load, each marked retained, with the counts per
    // topic and per subtree.
    wait_row_text(&tab, "sister/temp", "Suhu: 28°C");
    browser::wait_js(
        &tab,
        "document.querySelector('.tsummary').dataset.topics === '3'",
        LONG,
    );
    assert_eq!(
        shown_paths(&tab),
        [
            "lab",
            "lab/room",
            "lab/room/1",
            "sister",
            "sister/status",
            "sister/temp"
        ]
    );
    assert_eq!(
        browser::js(
            &tab,
            &format!("!{}.querySelector('.tret').hidden", row("sister/temp"))
        ),
        json!(true)
    );
    assert!(browser::text(&tab, ".tbroker").contains(&format!("connected to {server}")));
    let sister_row = browser::js(&tab, &format!("{}.innerText", row("sister")));
    assert!(
        sister_row.as_str().unwrap().contains("2 topics, 2 messages"),
        "{sister_row}"
    );

    // A live message: the count goes up, the row and its ancestor flash, the subtree's sum follows.
    watch_flashes(&tab);
    sister_pub(&server, &["-t", "sister/temp", "-m", "Suhu: 29,5°C", "-q", "1"]);
    wait_row_text(&tab, "sister/temp", "Suhu: 29,5°C");
    assert_eq!(
        browser::js(
            &tab,
            &format!("{}.querySelector('.tmeta').innerText", row("sister/temp"))
        ),
        json!("2")
    );
    wait_row_text(&tab, "sister", "2 topics, 3 messages");
    assert_eq!(
        browser::js(&tab, "[...flashed].sort()"),
        json!(["sister", "sister/temp"])
    );

    // The filter keeps the matching topics and their ancestors.
    set_filter(&tab, "STAT");
    browser::wait_js(&tab, &format!("!{}", row("lab")), LONG);
    assert_eq!(shown_paths(&tab), ["sister", "sister/status"]);
    set_filter(&tab, "nothing-like-it");
    browser::wait_text(&tab, ".tempty", "No topic name contains", LONG);
    set_filter(&tab, "");
    browser::wait_js(&tab, &format!("!!{}", row("lab/room/1")), LONG);

    // Collapse and expand by the arrow.
    browser::click(&tab, "[data-path='lab'] .ttwisty");
    browser::wait_js(&tab, &format!("!{}", row("lab/room")), LONG);
    browser::click(&tab, "[data-path='lab'] .ttwisty");
    browser::wait_js(&tab, &format!("!!{}", row("lab/room")), LONG);

    // The selected topic's history, newest first, and the plot of its numbers (28 and 29.5).
    browser::click(&tab, "[data-path='sister/temp'] .tname");
    browser::wait_text(&tab, ".tdetail", "Suhu: 29,5°C", LONG);
    let history = browser::js(
        &tab,
        "[...document.querySelectorAll('.thistory tbody tr')].map(r => [...r.cells].map(c => c.innerText))",
    );
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    // time, QoS, retain, size, payload: QoS 1 as published, because the feed subscribed at 2.
    assert_eq!(history[0][1], "1");
    assert_eq!(history[0][2], "");
    assert_eq!(history[0][4], "Suhu: 29,5°C");
    assert_eq!(history[1][2], "R");
    assert_eq!(history[1][4], "Suhu: 28°C");
    assert_eq!(
        browser::js(&tab, "document.querySelector('svg.tplot').dataset.points"),
        json!("2")
    );
    let ys = browser::js(
        &tab,
        "document.querySelector('svg.tplot polyline').getAttribute('points').split(' ').map(p => +p.split(',')[1])",
    );
    let ys = ys.as_array().unwrap();
    assert!(ys[1].as_f64() < ys[0].as_f64(), "29.5 is drawn above 28: {ys:?}");
    // A topic with no number in it has no plot.
    browser::click(&tab, "[data-path='sister/status'] .tname");
    browser::wait_text(&tab, ".tdetail h2", "sister/status", LONG);
    browser::wait_text(&tab, ".tdetail", "online", LONG);
    assert_eq!(
        browser::js(&tab, "!document.querySelector('svg.tplot')"),
        json!(true)
    );

    // A new topic arriving live opens its place in the tree.
    sister_pub(&server, &["-t", "sister/new/deep", "-m", "7"]);
    wait_row_text(&tab, "sister/new/deep", "= 7");
}

#[test]
fn web_topics_on_mosquitto_with_paho_and_the_publish_form() {
    let (_broker, server, _dir) = mosquitto();
    paho_pub(
        &server,
        &["-r", "lab/sensor/1=Suhu: 21,5°C", "lab/raw=hex:00ff41"],
    );
    // MQTT 5: the subscription asks for Retain As Published, so live messages keep their flag.
    let (mut web, url) = start_web(&server, &["-V", "5"]);
    let b = browser::launch();
    let tab = browser::open(&b, &url);
    wait_row_text(&tab, "lab/sensor/1", "Suhu: 21,5°C");
    // Binary payloads as \xNN text.
    wait_row_text(&tab, "lab/raw", "\\x00\\xffA");

    // A live message from paho: count and flash.
    watch_flashes(&tab);
    paho_pub(&server, &["lab/sensor/1=Suhu: 22°C"]);
    wait_row_text(&tab, "lab/sensor/1", "Suhu: 22°C");
    assert_eq!(
        browser::js(
            &tab,
            &format!("{}.querySelector('.tmeta').innerText", row("lab/sensor/1"))
        ),
        json!("2")
    );
    browser::wait_js(&tab, "flashed.has('lab/sensor/1') && flashed.has('lab')", LONG);

    // The page's form publishes; a `sister mqtt sub --raw` subscriber gets it, and it appears in
    // the tree as retained (with 5.0 the live RETAIN flag is known).
    let mut sub = util::spawn_sister(
        "sister mqtt sub",
        &[
            "mqtt", "sub", "--server", &server, "-t", "page/#", "-C", "1", "--raw", "-W", "20",
        ],
    );
    sub.wait_for_line("subscribed", LONG);
    fill_form(&tab, "page/hello", "Halo dari halaman", 1, true);
    browser::click(&tab, ".tpublish button[type=submit]");
    browser::wait_text(&tab, ".tpubresult", "Published to page/hello", LONG);
    sub.wait_for_line("Halo dari halaman", LONG);
    wait_row_text(&tab, "page/hello", "Halo dari halaman");
    assert_eq!(
        browser::js(
            &tab,
            &format!("!{}.querySelector('.tret').hidden", row("page/hello"))
        ),
        json!(true)
    );
    web.wait_for_line("published to page/hello from the page", LONG);

    // A topic the broker cannot take: the server's sentence is shown.
    fill_form(&tab, "page/#", "x", 0, false);
    browser::click(&tab, ".tpublish button[type=submit]");
    browser::wait_js(
        &tab,
        "document.querySelector('.tpubresult').classList.contains('error')",
        LONG,
    );
    assert!(browser::text(&tab, ".tpubresult").contains("\"page/#\""));
}

fn fill_form(tab: &Tab, topic: &str, payload: &str, qos: u8, retain: bool) {
    browser::js(
        tab,
        &format!(
            "(() => {{ const f = document.querySelector('.tpublish');
               f.topic.value = {t}; f.payload.value = {p}; f.qos.value = '{qos}'; f.retain.checked = {retain};
               return true; }})()",
            t = lit(topic),
            p = lit(payload)
        ),
    );
}

#[test]
fn web_topics_thousands_of_topics_keep_the_dom_small() {
    let (_broker, server) = sister_broker();
    paho_pub(&server, &["--many", "3000", "many"]);
    let (_web, url) = start_web(&server, &[]);
    let b = browser::launch();
    let tab = browser::open(&b, &url);
    browser::wait_js(
        &tab,
        "document.querySelector('.tsummary').dataset.topics === '3000'",
        LONG,
    );
    // 3000 topics under `many`: the first level is open, the 300 below it are too many to open.
    assert_eq!(shown_paths(&tab), ["many"]);
    browser::click(&tab, "button.texpand");
    // 1 + 300 + 3000 rows listed, but only those in view (and a margin) exist as elements.
    browser::wait_js(
        &tab,
        "document.querySelector('.tspacer').style.height === `${3301 * 24}px`",
        LONG,
    );
    let rows: Value = browser::js(&tab, "document.querySelectorAll('.trow').length");
    assert!(rows.as_u64().unwrap() < 100, "{rows} row elements");
    // Scrolled to the end, the last topic is drawn.
    browser::js(
        &tab,
        "(() => { const l = document.querySelector('.tlist'); l.scrollTop = l.scrollHeight; return true; })()",
    );
    wait_row_text(&tab, "many/299/9", "v 2999");
    let rows: Value = browser::js(&tab, "document.querySelectorAll('.trow').length");
    assert!(rows.as_u64().unwrap() < 100, "{rows} row elements");
}

/// The page is loaded five times while paho publishes 100 messages a second: each time the tree
/// fills from the snapshot and then follows the stream. This is the case where batches arrive while
/// the snapshot is on its way (topics.js `loadSnapshot`); the page once spun on them for seconds.
#[test]
fn web_topics_page_loads_while_messages_stream() {
    let (_broker, server) = sister_broker();
    let (host, port) = server.split_once(':').unwrap();
    let script = util::repo().join("tests/peers/mqtt_web_pub.py");
    let mut stream = Proc::spawn(
        "mqtt_web_pub.py --rate",
        util::python(
            Some("paho.mqtt.client"),
            &[
                script.to_str().unwrap(),
                host,
                port,
                "--many",
                "500",
                "many",
                "--rate",
                "100",
                "live",
            ],
        ),
    );
    stream.wait_for_line("streaming", LONG);
    let (_web, url) = start_web(&server, &[]);
    let b = browser::launch();
    for _ in 0..5 {
        let tab = browser::open(&b, &url);
        // 500 retained topics and the 10 streamed ones.
        browser::wait_js(
            &tab,
            "document.querySelector('.tsummary').dataset.topics === '510'",
            LONG,
        );
        // Live after the snapshot: the message count keeps growing.
        let seen = browser::js(&tab, "+document.querySelector('.tsummary').dataset.messages");
        let seen = seen.as_u64().unwrap();
        browser::wait_js(
            &tab,
            &format!(
                "+document.querySelector('.tsummary').dataset.messages > {}",
                seen + 50
            ),
            LONG,
        );
        tab.close(true).unwrap();
    }
}

#[test]
fn web_topics_speaks_indonesian() {
    let (_broker, server) = sister_broker();
    sister_pub(&server, &["-t", "sister/temp", "-m", "Suhu: 28°C", "-r"]);
    let (_web, url) = start_web(&server, &["--lang", "id"]);
    let b = browser::launch();
    let tab = browser::open(&b, &url);
    wait_row_text(&tab, "sister", "1 topik, 1 pesan");
    assert_eq!(
        browser::js(&tab, "document.querySelector('.tfilter').placeholder"),
        json!("Saring topik")
    );
    browser::wait_text(&tab, ".tbroker", "terhubung ke", LONG);
    assert_eq!(browser::text(&tab, ".tpublish h3"), "Publikasikan");
    browser::click(&tab, "[data-path='sister/temp'] .tname");
    browser::wait_text(&tab, ".tdetail", "Riwayat (terbaru di atas)", LONG);
    assert!(browser::text(&tab, ".thistory thead").contains("Waktu"));
    assert!(browser::text(&tab, ".tdetail").contains("Angka dalam payload"));
    // 3.1.1: the note on RETAIN, in Indonesian.
    assert!(browser::text(&tab, ".tdetail").contains("broker menghapus flag RETAIN"));
}
