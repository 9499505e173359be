//! `sister web`: the page in a real browser (headless Chromium), its API, and its live topic feed
//! from a real broker.

use std::time::Duration;

use crate::util::{self, browser};

/// `sister web` on a free port; its URL.
fn start_web(args: &[&str]) -> (util::Proc, String) {
    let (p, addr) = util::start_web(args);
    (p, format!("http://{addr}/"))
}

#[test]
fn the_page_loads_in_chromium_and_switches_views_in_its_language() {
    let (_web, url) = start_web(&["--lang", "id"]);
    let b = browser::launch();
    let tab = browser::open(&b, &url);
    assert_eq!(browser::text(&tab, "#tabs"), "Topik Tangkapan Lamport");
    browser::click(&tab, "#tabs button[data-view=capture]");
    browser::wait_js(&tab, "location.hash === '#capture'", Duration::from_secs(5));
    assert_eq!(
        browser::js(
            &tab,
            "document.querySelector('#view-capture').classList.contains('active')"
        ),
        serde_json::Value::Bool(true)
    );
}

/// The Lamport view draws a recorded run, and a click on an event colours its causal past and
/// future as its vector clocks say (checked here against the recorded clocks, not the page's).
#[test]
fn a_recorded_lamport_run_is_drawn_and_a_click_shows_the_causal_past() {
    let dir = tempfile::tempdir().unwrap();
    let run_path = dir.path().join("run.json");
    let (status, _, err) = util::run_sister(
        &[
            "lamport",
            "sim",
            "--processes",
            "3",
            "--seed",
            "1",
            "--events",
            "5",
            "--record",
            run_path.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert!(status.success(), "{err}");
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&run_path).unwrap()).unwrap();
    let events = run["events"].as_array().unwrap();
    let (_web, url) = start_web(&["--lamport", run_path.to_str().unwrap()]);
    let b = browser::launch();
    let tab = browser::open(&b, &format!("{url}#lamport"));
    browser::wait_js(
        &tab,
        "document.querySelectorAll('#lamport-diagram .lamport-event').length > 0",
        Duration::from_secs(10),
    );
    let drawn = browser::js(
        &tab,
        "document.querySelectorAll('#lamport-diagram .lamport-event').length",
    );
    assert_eq!(drawn.as_u64().unwrap() as usize, events.len());
    assert_eq!(
        browser::js(
            &tab,
            "document.querySelectorAll('#lamport-diagram .lamport-msg').length"
        )
        .as_u64()
        .unwrap() as usize,
        run["messages"].as_array().unwrap().len()
    );
    // The last event of the run: count its causal past from the recorded vector clocks.
    let last = events.len() - 1;
    let v = |i: usize| -> Vec<u64> {
        events[i]["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    let lt = |a: &[u64], b: &[u64]| a.iter().zip(b).all(|(x, y)| x <= y) && a != b;
    let past = (0..events.len()).filter(|&i| lt(&v(i), &v(last))).count();
    assert!(past > 0, "seed 1 gives the last event a causal past");
    browser::click(
        &tab,
        &format!("#lamport-diagram .lamport-event[data-index='{last}'] circle"),
    );
    browser::wait_js(
        &tab,
        "document.querySelector('.lamport-event.selected')",
        Duration::from_secs(5),
    );
    let shown = browser::js(&tab, "document.querySelectorAll('.lamport-event.past').length");
    assert_eq!(shown.as_u64().unwrap() as usize, past);
    let detail = browser::text(&tab, "#lamport-detail");
    assert!(
        detail.contains(&format!("happened before it: {past}")),
        "{detail}"
    );
}

/// `sister lab --web`: the run in the page as it happens, each pattern's capture (the test runs as
/// root in CI, so `lo` can be captured) in the Capture view's list, the MQTT pattern's topics in the
/// topic tree, and Ctrl+C ends it with the lab's verdict as the exit status.
#[test]
fn the_lab_runs_live_in_the_page() {
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut lab = util::spawn_sister(
        "sister lab --web",
        &["lab", "--web", &bind, "--only", "mqtt,reqresp"],
    );
    lab.wait_for_line("live at http://", Duration::from_secs(20));
    let b = browser::launch();
    let tab = browser::open(&b, &format!("http://{bind}/#lab"));
    browser::wait_js(
        &tab,
        "document.querySelectorAll('#lab-steps .lab-step[data-state=passed]').length === 2",
        Duration::from_secs(60),
    );
    let mqtt = browser::text(&tab, "#lab-steps .lab-step[data-pattern=mqtt]");
    assert!(
        mqtt.contains("PASS") && mqtt.contains("MQTT publish/subscribe"),
        "{mqtt}"
    );
    assert_eq!(
        browser::text(&tab, "#lab-summary"),
        "2 of 2 patterns behaved as the worksheet says"
    );
    lab.wait_for_line("The page stays at", Duration::from_secs(30));
    let captures: serde_json::Value =
        serde_json::from_str(&util::http_get(&format!("http://{bind}/api/captures"))).unwrap();
    let names: Vec<&str> = captures
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sister lab: mqtt", "sister lab: reqresp"]);
    assert!(captures[0]["packets"].as_u64().unwrap() > 10, "{captures}");
    let topics = util::http_get(&format!("http://{bind}/api/topics"));
    assert!(topics.contains("\"topic\":\"sister/channel/gaming\""), "{topics}");
    let status = lab
        .interrupt(Duration::from_secs(10))
        .expect("sister lab ends on Ctrl+C");
    assert!(status.success(), "{status:?}");
}
