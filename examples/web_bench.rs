//! The topic tree's browser side of bench/web.sh (issue 17): opens a `sister web` page in headless
//! Chromium (Debian's, as the tests do: tests/util/browser.rs) and measures what a person waits
//! for and sees.
//!
//!   cargo run --release --example web_bench -- URL [--topics N] [--runs R] [--watch SECS] [--server-pid PID]
//!
//! Prints one line per measurement, `KIND key=value ...`, for the shell script to read:
//! - `RENDER run=i first_render_ms=..`: from navigation start (performance.timeOrigin) to the frame
//!   in which the tree first drew its rows with N topics counted (topics.js writes the performance
//!   mark `sister:topics-rendered` in that requestAnimationFrame callback, after the rows are
//!   filled); also how long `/api/topics` (the snapshot) took and its size. Each run is a new tab in
//!   the same browser (the page's assets may come from its cache; the snapshot is never cached).
//! - `DOM view=collapsed|expanded trows=.. shown=.. listed=..`: `.trow` elements in the DOM, those
//!   not hidden, and the rows the list holds (the spacer's height / 24 px), before and after
//!   "Expand all".
//! - `STREAM ...`: over `--watch` seconds with the tree expanded while messages stream: frames
//!   (requestAnimationFrame callbacks) per second, gaps between frames of 50 ms or more, long tasks
//!   (PerformanceObserver 'longtask', >= 50 ms), and the messages per second the page counted
//!   (the summary's data-messages), which checks the publisher's rate.
//! - `CPU server_pct=..`: with `--server-pid`, that process's user+system CPU over the same window
//!   (/proc/PID/stat), in percent of one core.
//! - `SUMMARY first_render_median_ms=..`.

#[allow(dead_code)]
#[path = "../tests/util/browser.rs"]
mod browser;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Args {
    url: String,
    topics: u64,
    runs: usize,
    watch: f64,
    server_pid: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        topics: 10_000,
        runs: 5,
        watch: 10.0,
        server_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{s} needs a value")));
        match s.as_str() {
            "--topics" => a.topics = value().parse().unwrap_or_else(|_| usage("--topics N")),
            "--runs" => a.runs = value().parse().unwrap_or_else(|_| usage("--runs R")),
            "--watch" => a.watch = value().parse().unwrap_or_else(|_| usage("--watch SECS")),
            "--server-pid" => {
                a.server_pid = Some(value().parse().unwrap_or_else(|_| usage("--server-pid PID")))
            }
            "-h" | "--help" => usage(""),
            _ if a.url.is_empty() && !s.starts_with('-') => a.url = s,
            _ => usage(&format!("unknown argument {s}")),
        }
    }
    if a.url.is_empty() {
        usage("the URL of a `sister web` page is missing");
    }
    a
}

fn usage(why: &str) -> ! {
    if !why.is_empty() {
        eprintln!("web_bench: {why}");
    }
    eprintln!("usage: web_bench URL [--topics N] [--runs R] [--watch SECS] [--server-pid PID]");
    std::process::exit(2)
}

/// user+system CPU time of `pid` in seconds (/proc/PID/stat fields 14 and 15, after the command name).
fn cpu_seconds(pid: u32, tck: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15.
    let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(14) + ticks(15)) / tck
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

const LONG: Duration = Duration::from_secs(60);

fn main() {
    let a = args();
    let url = if a.url.contains('#') {
        a.url.clone()
    } else {
        format!("{}#topics", a.url)
    };
    let full = format!(
        "performance.getEntriesByName('sister:topics-rendered').some(m => m.detail && m.detail.topics >= {})",
        a.topics
    );
    let b = browser::launch();
    let mut renders = Vec::new();
    for run in 1..=a.runs {
        let tab = browser::open(&b, &url);
        browser::wait_js(&tab, &full, LONG);
        let r = browser::js(
            &tab,
            &format!(
                "(() => {{
                   const m = performance.getEntriesByName('sister:topics-rendered').find(m => m.detail && m.detail.topics >= {n});
                   const s = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/topics')).pop() || {{}};
                   const nav = performance.getEntriesByType('navigation')[0] || {{}};
                   return {{ first: m.startTime, topics: m.detail.topics, snap_ms: s.duration, snap_start: s.startTime,
                             snap_bytes: s.decodedBodySize, dcl: nav.domContentLoadedEventEnd }};
                 }})()",
                n = a.topics
            ),
        );
        let first = num(&r, "first");
        renders.push(first);
        println!(
            "RENDER run={run} first_render_ms={first:.0} topics={} snapshot_start_ms={:.0} snapshot_ms={:.0} snapshot_kb={:.0} dom_content_loaded_ms={:.0}",
            num(&r, "topics"),
            num(&r, "snap_start"),
            num(&r, "snap_ms"),
            num(&r, "snap_bytes") / 1024.0,
            num(&r, "dcl"),
        );
        tab.close(true).ok();
    }

    // The DOM's size and the frame rate, on one more tab, with the tree fully expanded.
    let tab = browser::open(&b, &url);
    tab.bring_to_front().ok();
    browser::wait_js(&tab, &full, LONG);
    let dom = |tab: &headless_chrome::Tab, view: &str| {
        let d = browser::js(
            tab,
            "(() => { const rows = [...document.querySelectorAll('.trow')];
               return { trows: rows.length, shown: rows.filter(r => !r.hidden).length,
                        listed: Math.round(parseFloat(document.querySelector('.tspacer').style.height || '0') / 24) }; })()",
        );
        println!(
            "DOM view={view} trows={} shown={} listed={}",
            d["trows"], d["shown"], d["listed"]
        );
        d
    };
    let collapsed = dom(&tab, "collapsed");
    browser::js(&tab, "(document.querySelector('button.texpand').click(), true)");
    let before = collapsed["listed"].as_u64().unwrap_or(0);
    browser::wait_js(
        &tab,
        &format!(
            "parseFloat(document.querySelector('.tspacer').style.height) / 24 > {before} + {}",
            a.topics / 2
        ),
        LONG,
    );
    // Let the expansion's own frame pass before watching.
    std::thread::sleep(Duration::from_millis(500));
    dom(&tab, "expanded");

    browser::js(
        &tab,
        "(() => {
           const w = window.__bench = { frames: 0, last: 0, gaps: 0, maxGap: 0, long: 0, longMs: 0, longest: 0,
                                        msgs0: +document.querySelector('.tsummary').dataset.messages, t0: performance.now(), on: true };
           try {
             new PerformanceObserver((l) => { for (const e of l.getEntries()) { w.long++; w.longMs += e.duration; w.longest = Math.max(w.longest, e.duration); } })
               .observe({ type: 'longtask' });
             w.observer = true;
           } catch (e) { w.observer = false; }
           const tick = (t) => {
             if (!w.on) return;
             if (w.last) { const g = t - w.last; if (g >= 50) w.gaps++; w.maxGap = Math.max(w.maxGap, g); }
             w.last = t; w.frames++;
             requestAnimationFrame(tick);
           };
           requestAnimationFrame(tick);
           return true; })()",
    );
    let tck = clock_ticks();
    let cpu0 = a.server_pid.map(|p| cpu_seconds(p, tck));
    let wall0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(a.watch));
    let wall = wall0.elapsed().as_secs_f64();
    let cpu1 = a.server_pid.map(|p| cpu_seconds(p, tck));
    let w = browser::js(
        &tab,
        "(() => { const w = window.__bench; w.on = false; const secs = (performance.now() - w.t0) / 1000;
           return { secs, frames: w.frames, gaps: w.gaps, maxGap: w.maxGap, long: w.long, longMs: w.longMs, longest: w.longest,
                    observer: w.observer, visibility: document.visibilityState,
                    msgs: +document.querySelector('.tsummary').dataset.messages - w.msgs0 }; })()",
    );
    let secs = num(&w, "secs");
    println!(
        "STREAM secs={secs:.1} fps={:.1} frames={} frame_gaps_50ms={} max_frame_gap_ms={:.0} longtasks={} longtask_ms={:.0} longest_task_ms={:.0} longtask_observer={} visibility={} page_msgs_per_s={:.0}",
        num(&w, "frames") / secs,
        w["frames"],
        w["gaps"],
        num(&w, "maxGap"),
        w["long"],
        num(&w, "longMs"),
        num(&w, "longest"),
        w["observer"],
        w["visibility"].as_str().unwrap_or("?"),
        num(&w, "msgs") / secs,
    );
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        println!("CPU server_pct={:.1} secs={wall:.1}", (c1 - c0) / wall * 100.0);
    }
    renders.sort_by(f64::total_cmp);
    if !renders.is_empty() {
        println!(
            "SUMMARY first_render_median_ms={:.0} min_ms={:.0} max_ms={:.0} runs={}",
            renders[renders.len() / 2],
            renders[0],
            renders[renders.len() - 1],
            renders.len()
        );
    }
}
