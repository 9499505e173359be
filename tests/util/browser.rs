//! A real browser for the web view's tests: Debian's `chromium` (installed by `.ci/run`), headless,
//! driven over the DevTools protocol by the `headless_chrome` crate (its browser-download feature is
//! off: nothing is fetched at run time). The tests check what a person sees: the text of elements
//! after the page's scripts ran, and what a click changes.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::{Browser, LaunchOptions, Tab};

/// Debian's chromium (`$CHROMIUM` to use another).
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} not found: the web view's tests need Debian's chromium (.ci/run installs it)",
        path.display()
    );
    path
}

/// A headless Chromium, closed when dropped. `--no-sandbox`: the tests run as root in CI.
pub fn launch() -> Browser {
    let options = LaunchOptions::default_builder()
        .path(Some(chromium()))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1400, 900)))
        .idle_browser_timeout(Duration::from_secs(120))
        .args(vec![
            OsStr::new("--disable-gpu"),
            OsStr::new("--disable-dev-shm-usage"),
        ])
        .build()
        .expect("chromium launch options");
    Browser::new(options).expect("cannot start chromium")
}

/// Open `url` in a new tab and wait until the page's scripts have started (`body[data-ready]`).
pub fn open(browser: &Browser, url: &str) -> Arc<Tab> {
    open_with(browser, url, None)
}

/// [`open`], with `script` run in the page before the page's own scripts (to slow a request down,
/// say: see the topic tree's test of a snapshot that arrives while messages stream).
pub fn open_with(browser: &Browser, url: &str, script: Option<&str>) -> Arc<Tab> {
    let tab = browser.new_tab().expect("new tab");
    if let Some(source) = script {
        tab.call_method(
            headless_chrome::protocol::cdp::Page::AddScriptToEvaluateOnNewDocument {
                source: source.to_string(),
                world_name: None,
                include_command_line_api: None,
                run_immediately: None,
            },
        )
        .expect("Page.addScriptToEvaluateOnNewDocument");
    }
    tab.navigate_to(url).expect("navigate");
    tab.wait_until_navigated().expect("page load");
    wait_js(
        &tab,
        "document.body.dataset.ready === 'yes'",
        Duration::from_secs(10),
    );
    tab
}

/// Evaluate a JavaScript expression and return its value as JSON.
pub fn js(tab: &Tab, expr: &str) -> serde_json::Value {
    let r = tab
        .evaluate(&format!("JSON.stringify(({expr}))"), false)
        .unwrap_or_else(|e| panic!("evaluating {expr}: {e}"));
    match r.value {
        Some(serde_json::Value::String(s)) => serde_json::from_str(&s).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    }
}

/// Wait until the JavaScript expression is true (panics with the page's text after `timeout`).
pub fn wait_js(tab: &Tab, expr: &str, timeout: Duration) {
    let start = Instant::now();
    loop {
        if js(tab, &format!("!!({expr})")) == serde_json::Value::Bool(true) {
            return;
        }
        if start.elapsed() > timeout {
            let html = js(tab, "document.querySelector('main') ? document.querySelector('main').outerHTML.slice(0, 4000) : ''");
            panic!(
                "waited {timeout:?} for `{expr}`; the page shows:\n{}\n-- its main element:\n{}",
                text(tab, "body"),
                html.as_str().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The visible text of the first element matching `selector` (empty if none).
pub fn text(tab: &Tab, selector: &str) -> String {
    let sel = serde_json::to_string(selector).unwrap();
    js(
        tab,
        &format!("(document.querySelector({sel}) || {{}}).innerText || ''"),
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Wait until the element matching `selector` shows `needle` in its text; returns that text.
pub fn wait_text(tab: &Tab, selector: &str, needle: &str, timeout: Duration) -> String {
    let sel = serde_json::to_string(selector).unwrap();
    let n = serde_json::to_string(needle).unwrap();
    wait_js(
        tab,
        &format!("((document.querySelector({sel}) || {{}}).innerText || '').includes({n})"),
        timeout,
    );
    text(tab, selector)
}

/// Click the first element matching `selector`, as a person would (a real mouse event at its centre).
pub fn click(tab: &Tab, selector: &str) {
    tab.wait_for_element(selector)
        .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
        .click()
        .unwrap_or_else(|e| panic!("cannot click {selector}: {e}"));
}
