//! `sister lab --web`: the worksheet's run, live in the page. The lab runner ([`LabFeed`]) reports
//! each pattern as it starts and ends; the page's Lab view lists them with their transcript and
//! checks, the pattern's loopback capture joins the Capture view, and the MQTT messages the capture
//! shows join the topic tree.
//!
//! Routes: `GET /api/lab` (every step so far). Events: `lab` (a step began or ended).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::server::{lock, App};
use crate::topics::Shown;

/// One pattern of the lab run, as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LabStep {
    pub pattern: String,
    pub title: String,
    /// `running`, `passed` or `failed`.
    pub state: &'static str,
    /// The transcript: `role | text` lines as `sister lab` prints them.
    pub transcript: Vec<String>,
    /// Each check and whether it held.
    pub checks: Vec<(String, bool)>,
    pub seconds: f64,
    /// The id of its capture in the Capture view, when it was captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<usize>,
}

/// What the lab runner calls.
#[derive(Clone)]
pub struct LabFeed(App);

impl LabFeed {
    pub fn new(app: &App) -> LabFeed {
        *lock(&app.0.lab) = Some(Vec::new());
        LabFeed(app.clone())
    }

    pub fn begin(&self, pattern: &str, title: &str) {
        let step = LabStep {
            pattern: pattern.into(),
            title: title.into(),
            state: "running",
            transcript: Vec::new(),
            checks: Vec::new(),
            seconds: 0.0,
            capture: None,
        };
        lock(&self.0 .0.lab)
            .get_or_insert_with(Vec::new)
            .push(step.clone());
        self.0 .0.events.send("lab", &step);
    }

    /// The pattern ended: its transcript, checks, and its capture (analyzed) if one was made.
    pub fn end(
        &self,
        transcript: Vec<String>,
        checks: Vec<(String, bool)>,
        seconds: f64,
        capture: Option<crate::capture::Loaded>,
    ) {
        let app = &self.0;
        let pattern = lock(&app.0.lab)
            .as_ref()
            .and_then(|l| l.last())
            .map(|s| s.pattern.clone());
        let capture_id = capture.map(|mut loaded| {
            // The file is in a temporary directory; the page names it by its pattern.
            if let Some(p) = &pattern {
                loaded.name = format!("sister lab: {p}");
            }
            record_publishes(app, &loaded.json);
            let id = app.0.captures.add(loaded);
            app.0.events.send("capture", &serde_json::json!({ "id": id }));
            id
        });
        let step = {
            let mut lab = lock(&app.0.lab);
            let Some(step) = lab.get_or_insert_with(Vec::new).last_mut() else {
                return;
            };
            step.state = if checks.iter().all(|c| c.1) && !checks.is_empty() {
                "passed"
            } else {
                "failed"
            };
            step.transcript = transcript;
            step.checks = checks;
            step.seconds = seconds;
            step.capture = capture_id;
            step.clone()
        };
        app.0.events.send("lab", &step);
    }
}

/// The MQTT PUBLISHes a capture shows, into the topic tree (the lab's brokers listen on ports only
/// the lab knows, so the tree is filled from what went over the wire).
fn record_publishes(app: &App, report_json: &str) {
    let Ok(report) = serde_json::from_str::<serde_json::Value>(report_json) else {
        return;
    };
    let messages = || {
        report["conversations"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["messages"].as_array().into_iter().flatten())
    };
    // Times in a report are seconds from the capture's first packet; the capture just ended, so its
    // last message was a moment ago.
    let last_t = messages().filter_map(|m| m["t"].as_f64()).fold(0.0, f64::max);
    let start_ms = crate::feed::now_ms() - (last_t * 1000.0) as i64;
    let mut tree = app.topics();
    for m in messages() {
        let f = &m["fields"];
        if m["protocol"] != "MQTT" || f["type"] != "PUBLISH" {
            continue;
        }
        let (Some(topic), Some(payload)) = (f["topic"].as_str(), f["payload"].as_str()) else {
            continue;
        };
        // Only what the publishers sent, not the broker's copies to its subscribers: a PUBLISH from
        // the client of its conversation to the broker.
        if m["direction"] != "client_to_server" {
            continue;
        }
        let qos = f["qos"].as_str().and_then(|q| q.parse().ok()).unwrap_or(0);
        let retain = f["retain"].as_str() == Some("true");
        let at = start_ms + (m["t"].as_f64().unwrap_or(0.0) * 1000.0) as i64;
        tree.record(topic, Shown::new(payload.as_bytes(), qos, retain, at));
    }
    if let Some(c) = tree.take_changes() {
        drop(tree);
        app.0.events.send("topics", &c);
    }
}

pub fn routes() -> Router<App> {
    Router::new().route("/api/lab", get(steps))
}

async fn steps(State(app): State<App>) -> Json<Option<Vec<LabStep>>> {
    Json(lock(&app.0.lab).clone())
}
