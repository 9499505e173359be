//! `sister web`: the page in a real browser (headless Chromium), its API, and its live topic feed
//! from a real broker.

use std::time::Duration;

use crate::util::{self, browser};

/// `sister web` on a free port; its URL.
fn start_web(args: &[&str]) -> (util::Proc, String) {
    let port = util::free_tcp_port();
    let bind = format!("127.0.0.1:{port}");
    let mut all = vec!["web", "--bind", bind.as_str()];
    all.extend_from_slice(args);
    let mut p = util::spawn_sister("sister web", &all);
    p.wait_for_line("open http://", Duration::from_secs(20));
    (p, format!("http://{bind}/"))
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
