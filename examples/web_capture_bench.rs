//! The capture view on a large capture (issue 17), measured in a real browser: `bench/web-capture.sh`
//! runs it three times and prints the medians. A benchmark, not a test: it prints figures and fails
//! only if a program fails or the page never draws.
//!
//! Run: `cargo run --release --example web_capture_bench -- --sister target/release/sister --pcap FILE`
//! (`--seconds N`: how long each scroll run lasts, 5 by default).
//!
//! 1. **The API**, on a freshly started `sister web --pcap FILE` (the time until it prints its URL is
//!    `ready`): `GET /api/captures/{id}/flow` the first time (the server builds the flow graph from
//!    the report), the second time (its cached JSON), with `?protocol=MQTT` and with
//!    `?conversation=1` (filters are never cached). Each time: until the last byte of the body.
//! 2. **The page**, on another fresh server, in Debian's headless Chromium (`/usr/bin/chromium`, no
//!    sandbox, 1400x900): `/#capture`, the time from navigation start (`performance.now()`) to the
//!    first animation frame that has rows in the list (cold: the server builds the flow graph for
//!    this request), then the same once more (warm: the server's cached answer); long tasks (≥ 50 ms,
//!    `PerformanceObserver('longtask')`) during the load.
//! 3. **Scrolling**, for `--seconds` each: an animation-frame loop that scrolls the list after each
//!    frame is painted (a task posted from `requestAnimationFrame`, so the page's scroll handler draws
//!    in the next frame, as with a person's wheel): `wheel` 100 px per frame, `page` one screen per
//!    frame, `thumb` a random place of the whole list (and a random sideways position) per frame, as
//!    dragging the scroll bar does. Frame intervals (p50, p95, max), long tasks, and after every frame
//!    what it showed: rows missing from the visible range (`blank`), row elements added to the list
//!    (`created`: the pool should be reused), arrows whose ends are not on a lifeline, lifelines that do
//!    not span the view, column heads not above their lifelines. The same loop on `about:blank` is the
//!    baseline (what the headless browser's frame clock gives without our page).
//!
//! Output: one `name value` line per figure (the shell script takes medians of them).

#[allow(dead_code)]
#[path = "../tests/util/browser.rs"]
mod browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page;
use headless_chrome::Tab;
use serde_json::Value;

struct Args {
    sister: PathBuf,
    pcap: PathBuf,
    seconds: f64,
    /// Where to save screenshots of the list scrolled to its middle and its end (none if absent).
    screenshots: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        sister: PathBuf::from("target/release/sister"),
        pcap: PathBuf::from("/tmp/sister-bench-web-capture.pcap"),
        seconds: 5.0,
        screenshots: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sister" => a.sister = value().into(),
            "--pcap" => a.pcap = value().into(),
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--screenshots" => a.screenshots = Some(value().into()),
            _ => panic!("unknown argument {flag} (--sister BIN --pcap FILE --seconds N --screenshots DIR)"),
        }
    }
    a
}

fn out(name: &str, value: impl std::fmt::Display) {
    println!("{name} {value}");
}

/// `sister web --pcap FILE` on a free port, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start the server; it and the seconds until it printed its URL (the capture analyzed).
fn start(a: &Args) -> (Server, f64) {
    let addr = format!("127.0.0.1:{}", free_port());
    let started = Instant::now();
    let mut child = Command::new(&a.sister)
        .args(["-q", "web", "--no-docker", "--bind", &addr, "--pcap"])
        .arg(&a.pcap)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", a.sister.display()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("open http://") => break,
            Some(Ok(_)) => {}
            _ => panic!("sister web ended before printing its URL"),
        }
    }
    let ready = started.elapsed().as_secs_f64();
    // Keep reading its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Server { child, addr }, ready)
}

/// One HTTP/1.1 GET (the server closes after it): the status and the body, read to its end.
fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = answer[end + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
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

/// GET `path`, timed; the milliseconds and the JSON.
fn timed(addr: &str, path: &str) -> (f64, Value) {
    let t = Instant::now();
    let (status, body) = get(addr, path);
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    (ms, v)
}

fn api(a: &Args) {
    let (server, ready) = start(a);
    out("web_ready_s", format!("{ready:.3}"));
    let addr = &server.addr;
    let (_, list) = timed(addr, "/api/captures");
    let id = list[0]["id"].as_u64().expect("a capture");
    let flow = format!("/api/captures/{id}/flow");
    let t = Instant::now();
    let (_, body) = get(addr, &flow);
    out(
        "api_flow_first_ms",
        format!("{:.1}", t.elapsed().as_secs_f64() * 1000.0),
    );
    out("api_flow_mb", format!("{:.1}", body.len() as f64 / 1e6));
    let v: Value = serde_json::from_slice(&body).unwrap();
    let n = |v: &Value, k: &str| v[k].as_array().map_or(0, Vec::len);
    out("flow_events", n(&v, "events"));
    out("flow_rows", n(&v, "rows"));
    out("flow_columns", n(&v, "columns"));
    out("flow_conversations", n(&v, "conversations"));
    out("flow_packets", &v["packets"]);
    let (ms, _) = timed(addr, &flow);
    out("api_flow_cached_ms", format!("{ms:.1}"));
    let (ms, mqtt) = timed(addr, &format!("{flow}?protocol=MQTT"));
    out("api_flow_mqtt_ms", format!("{ms:.1}"));
    out("flow_mqtt_events", n(&mqtt, "events"));
    let (ms, one) = timed(addr, &format!("{flow}?conversation=1"));
    out("api_flow_conversation_ms", format!("{ms:.1}"));
    out("flow_conversation_events", n(&one, "events"));
}

/// Evaluate `expr` (a promise is awaited); its value, which the page gives as a JSON string.
fn js(tab: &Tab, expr: &str) -> Value {
    let r = tab
        .evaluate(&format!("Promise.resolve({expr}).then(JSON.stringify)"), true)
        .unwrap_or_else(|e| panic!("evaluating {expr}: {e}"));
    match r.value {
        Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn wait_js(tab: &Tab, expr: &str, timeout: Duration) {
    let start = Instant::now();
    while js(tab, &format!("!!({expr})")) != Value::Bool(true) {
        assert!(start.elapsed() < timeout, "waited {timeout:?} for {expr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Installed in every document before its scripts: long tasks from the start, and the first
/// animation frame that has rows in the list.
const ON_NEW_DOCUMENT: &str = r#"
window.__bench = { long: [], firstRows: null };
try {
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__bench.long.push([e.startTime, e.duration]); })
    .observe({ type: "longtask", buffered: true });
} catch (e) {}
(function poll() {
  requestAnimationFrame((ts) => {
    if (document.querySelector(".flow-row:not([hidden])")) window.__bench.firstRows = performance.now();
    else poll();
  });
})();
"#;

/// The scroll loop, in the page: `(mode, seconds) => Promise<figures>`.
const SCROLL: &str = r#"
(mode, seconds) => new Promise((done) => {
  const R = 26;
  const scroll = document.querySelector(".flow-scroll");
  const layer = document.querySelector(".flow-rows");
  const total = window.sisterCaptureRendered ? window.sisterCaptureRendered.rows : 0;
  let created = 0;
  const mo = layer && new MutationObserver((ms) => { for (const m of ms) created += m.addedNodes.length; });
  if (mo) mo.observe(layer, { childList: true });
  const long = [];
  const po = new PerformanceObserver((l) => { for (const e of l.getEntries()) long.push(e.duration); });
  po.observe({ type: "longtask" });
  const intervals = [];
  let checked = 0, blankFrames = 0, blankRows = 0, badArrows = 0, badLifelines = 0, badHeads = 0, maxEls = 0;
  let dir = 1, prev = null;
  const end = performance.now() + seconds * 1000;
  // What the frame just painted showed: every row of the visible range in place, arrows on lifelines.
  function check() {
    checked++;
    const view = scroll.getBoundingClientRect();
    const els = [...layer.children];
    maxEls = Math.max(maxEls, els.length);
    const shown = new Map();
    for (const r of els) if (!r.hidden) shown.set(Number(r.dataset.row), r);
    const first = Math.floor(scroll.scrollTop / R);
    const last = Math.min(total, Math.ceil((scroll.scrollTop + scroll.clientHeight) / R)) - 1;
    let missing = 0;
    for (let i = first; i <= last; i++) {
      const r = shown.get(i);
      if (!r || Math.abs(r.getBoundingClientRect().top - (view.top - scroll.scrollTop + i * R + scroll.clientTop)) > 1) missing++;
    }
    if (missing) { blankFrames++; blankRows += missing; }
    const lines = [...document.querySelectorAll(".lifeline")].map((l) => l.getBoundingClientRect());
    for (const l of lines) if (l.top > view.top + 1 || l.bottom < view.top + scroll.clientHeight - 1) badLifelines++;
    const xs = lines.map((l) => l.left);
    const on = (x) => xs.some((lx) => Math.abs(lx - x) <= 2);
    for (let i = first; i <= last; i++) {
      const r = shown.get(i);
      if (!r) continue;
      const a = r.querySelector(".arrow").getBoundingClientRect();
      if (a.width > 5 && !(on(a.left) && on(a.right))) badArrows++;
    }
    const heads = [...document.querySelectorAll(".flow-head .flow-col")].map((h) => h.getBoundingClientRect());
    heads.forEach((h, i) => { if (lines[i] && Math.abs((h.left + h.right) / 2 - lines[i].left) > 2) badHeads++; });
  }
  function move() {
    const max = scroll.scrollHeight - scroll.clientHeight;
    let next;
    if (mode === "thumb") {
      next = Math.random() * max;
      scroll.scrollLeft = Math.random() * (scroll.scrollWidth - scroll.clientWidth);
    } else {
      next = scroll.scrollTop + dir * (mode === "page" ? scroll.clientHeight : 100);
      if (next >= max) { next = max; dir = -1; } else if (next <= 0) { next = 0; dir = 1; }
    }
    scroll.scrollTop = next;
  }
  function frame(ts) {
    if (prev !== null) intervals.push(ts - prev);
    prev = ts;
    if (ts >= end) {
      // The long tasks of the last frames are reported a little later.
      setTimeout(() => {
        po.disconnect();
        if (mo) mo.disconnect();
        const s = intervals.slice().sort((a, b) => a - b);
        const q = (p) => s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : 0;
        done({ frames: intervals.length, p50: q(0.5), p95: q(0.95), max: s.length ? s[s.length - 1] : 0,
          over50: s.filter((x) => x >= 50).length, long: long.length, longMax: long.length ? Math.max(...long) : 0,
          checked, blankFrames, blankRows, badArrows, badLifelines, badHeads, created, maxEls, total,
          lifelines: document.querySelectorAll(".lifeline").length });
      }, 200);
      return;
    }
    if (scroll) setTimeout(() => { check(); move(); }, 0);
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
})
"#;

fn scroll(tab: &Tab, prefix: &str, mode: &str, seconds: f64) {
    let v = js(tab, &format!("({SCROLL})({mode:?}, {seconds})"));
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    out(&format!("{prefix}_frames"), f("frames"));
    out(&format!("{prefix}_p50_ms"), format!("{:.1}", f("p50")));
    out(&format!("{prefix}_p95_ms"), format!("{:.1}", f("p95")));
    out(&format!("{prefix}_max_ms"), format!("{:.1}", f("max")));
    out(&format!("{prefix}_frames_over_50ms"), f("over50"));
    out(&format!("{prefix}_long_tasks"), f("long"));
    out(
        &format!("{prefix}_long_task_max_ms"),
        format!("{:.1}", f("longMax")),
    );
    if prefix != "blank" {
        for k in [
            "checked",
            "blankFrames",
            "blankRows",
            "badArrows",
            "badLifelines",
            "badHeads",
            "created",
            "maxEls",
        ] {
            out(&format!("{prefix}_{k}"), f(k));
        }
    }
}

/// Load `/#capture`; the milliseconds from navigation start to the first frame with rows.
fn load(tab: &Arc<Tab>, url: &str, prefix: &str) {
    tab.navigate_to(url).expect("navigate");
    tab.wait_until_navigated().expect("page load");
    wait_js(
        tab,
        "window.__bench && window.__bench.firstRows !== null && window.sisterCaptureRendered",
        Duration::from_secs(120),
    );
    let v = js(
        tab,
        "({ first: window.__bench.firstRows, fetchDraw: window.sisterCaptureRendered.ms, rows: window.sisterCaptureRendered.rows, events: window.sisterCaptureRendered.events, long: window.__bench.long.filter(([t]) => t <= window.__bench.firstRows + 100), els: document.querySelectorAll('.flow-row').length, nodes: document.getElementsByTagName('*').length, heap: (performance.memory || {}).usedJSHeapSize || 0 })",
    );
    let long = v["long"].as_array().cloned().unwrap_or_default();
    let durations: Vec<f64> = long.iter().filter_map(|l| l[1].as_f64()).collect();
    out(
        &format!("{prefix}_first_rows_ms"),
        format!("{:.0}", v["first"].as_f64().unwrap_or(f64::NAN)),
    );
    out(
        &format!("{prefix}_fetch_to_drawn_ms"),
        format!("{:.0}", v["fetchDraw"].as_f64().unwrap_or(f64::NAN)),
    );
    out(&format!("{prefix}_long_tasks"), durations.len());
    out(
        &format!("{prefix}_long_task_max_ms"),
        format!("{:.0}", durations.iter().cloned().fold(0.0, f64::max)),
    );
    out(
        &format!("{prefix}_long_task_total_ms"),
        format!("{:.0}", durations.iter().sum::<f64>()),
    );
    out("page_rows", &v["rows"]);
    out("page_events", &v["events"]);
    out("page_row_elements", &v["els"]);
    out("page_dom_elements", &v["nodes"]);
    out(
        "page_js_heap_mb",
        format!("{:.0}", v["heap"].as_f64().unwrap_or(0.0) / 1e6),
    );
}

fn page(a: &Args) {
    let (server, ready) = start(a);
    out("web_ready2_s", format!("{ready:.3}"));
    let browser = browser::launch();
    let tab = browser.new_tab().expect("new tab");
    tab.set_default_timeout(Duration::from_secs(120));
    tab.call_method(Page::AddScriptToEvaluateOnNewDocument {
        source: ON_NEW_DOCUMENT.to_string(),
        world_name: None,
        include_command_line_api: None,
        run_immediately: None,
    })
    .expect("addScriptToEvaluateOnNewDocument");
    let url = format!("http://{}/#capture", server.addr);
    load(&tab, &url, "page_cold");
    // Reload: the server answers from its cache; the browser parses and draws again.
    tab.navigate_to("about:blank").unwrap();
    tab.wait_until_navigated().unwrap();
    load(&tab, &url, "page_warm");
    // Let the load's work settle before measuring frames.
    std::thread::sleep(Duration::from_millis(500));
    if let Some(dir) = &a.screenshots {
        std::fs::create_dir_all(dir).unwrap();
        for (name, at) in [("middle", 0.5), ("end", 1.0)] {
            js(
                &tab,
                &format!("new Promise((ok) => {{ const s = document.querySelector('.flow-scroll'); s.scrollTop = (s.scrollHeight - s.clientHeight) * {at}; requestAnimationFrame(() => requestAnimationFrame(() => ok(true))); }})"),
            );
            let png = tab
                .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
                .expect("screenshot");
            std::fs::write(dir.join(format!("capture-{name}.png")), png).unwrap();
        }
        js(&tab, "document.querySelector('.flow-scroll').scrollTop = 0");
    }
    for mode in ["wheel", "page", "thumb"] {
        scroll(&tab, mode, mode, a.seconds);
    }
    tab.navigate_to("about:blank").unwrap();
    tab.wait_until_navigated().unwrap();
    scroll(&tab, "blank", "none", a.seconds);
    drop(server);
}

fn main() {
    let a = args();
    assert!(a.pcap.exists(), "{} does not exist", a.pcap.display());
    api(&a);
    page(&a);
}
