//! Captures in the page: files given with `--pcap`, files dropped on the page (`POST /api/analyze`),
//! each analyzed by `analyze` exactly as `sister analyze --format json` does.
//!
//! Routes:
//! - `POST /api/analyze` (body: a pcap or pcapng file; `?name=FILE` names it in the report): the
//!   report as JSON, the same bytes `sister analyze --format json FILE` prints. The body is written
//!   to a private temporary directory (never elsewhere), analyzed on a blocking thread, and removed.
//!   Over the upload limit: 413 with the limit; a file that is not a capture: 400 with the reason.
//! - `GET /api/captures`: the loaded captures (id, name, packets, conversations).
//! - `GET /api/captures/{id}`: one loaded capture's report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::server::{error, lock, App};

/// One analyzed capture.
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    /// `sister analyze --format json`'s output, as bytes to send as they are.
    pub json: Arc<str>,
    pub packets: u64,
    pub conversations: usize,
}

/// The captures the page can show, in the order they were loaded (id = position + 1).
#[derive(Debug, Default)]
pub struct Captures(Mutex<Vec<Arc<Loaded>>>);

impl Captures {
    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Add a capture; its id (1-based).
    pub fn add(&self, loaded: Loaded) -> usize {
        let mut v = lock(&self.0);
        v.push(Arc::new(loaded));
        v.len()
    }

    pub fn get(&self, id: usize) -> Option<Arc<Loaded>> {
        lock(&self.0).get(id.checked_sub(1)?).cloned()
    }

    fn list(&self) -> Vec<CaptureInfo> {
        lock(&self.0)
            .iter()
            .enumerate()
            .map(|(i, c)| CaptureInfo {
                id: i + 1,
                name: c.name.clone(),
                packets: c.packets,
                conversations: c.conversations,
            })
            .collect()
    }
}

#[derive(Debug, Serialize)]
struct CaptureInfo {
    id: usize,
    name: String,
    packets: u64,
    conversations: usize,
}

/// Analyze files as `sister analyze --format json FILE...` does (blocking: call it off the runtime).
pub fn analyze_paths(paths: &[PathBuf]) -> anyhow::Result<Loaded> {
    analyze_named(paths, None)
}

/// [`analyze_paths`], the report naming the file `name` (an upload's name, not its temporary path).
fn analyze_named(paths: &[PathBuf], name: Option<&str>) -> anyhow::Result<Loaded> {
    let mut analysis = analyze::analyze_files(paths, &analyze::Options::default())?;
    if let Some(name) = name {
        analysis.report.capture.files = vec![name.to_string()];
    }
    if analysis.unusable {
        anyhow::bail!("{}", analysis.report.problems.join("; "));
    }
    let mut json = serde_json::to_string_pretty(&analysis.report)?;
    json.push('\n');
    Ok(Loaded {
        name: paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" + "),
        json: json.into(),
        packets: analysis.report.capture.packets,
        conversations: analysis.report.conversations.len(),
    })
}

pub fn routes(upload_limit: usize) -> Router<App> {
    Router::new()
        .route(
            "/api/analyze",
            post(analyze_upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/captures", get(list))
        .route("/api/captures/{id}", get(one))
}

#[derive(Deserialize)]
struct UploadQuery {
    /// The file's name as the user knows it (the report's `capture.files`).
    name: Option<String>,
    /// Keep the capture in the page's list (the page does; `curl` need not).
    #[serde(default)]
    keep: bool,
}

/// A file name safe to create inside our temporary directory: its last component, no `..`.
fn safe_name(name: Option<&str>) -> String {
    let base = name
        .and_then(|n| Path::new(n).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..");
    base.unwrap_or_else(|| "upload.pcap".into())
}

async fn analyze_upload(
    State(app): State<App>,
    Query(q): Query<UploadQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let limit = app.0.options.upload_limit;
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the capture is larger than the upload limit of {} MiB (sister web --upload-limit)",
                    limit >> 20
                ),
            )
        }
        Err(e) => return error(e.status(), e.body_text()),
    };
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "the request has no capture in its body");
    }
    let name = safe_name(q.name.as_deref());
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<Loaded> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(&name);
        std::fs::write(&path, &body)?;
        // The report names the file as the user named it, not by our temporary path.
        let mut loaded = analyze_named(std::slice::from_ref(&path), Some(&name))?;
        loaded.name = name;
        Ok(loaded)
    })
    .await;
    match result {
        Ok(Ok(loaded)) => {
            let json = loaded.json.clone();
            if q.keep {
                let id = app.0.captures.add(loaded);
                app.0.events.send("capture", &serde_json::json!({ "id": id }));
            }
            ([(header::CONTENT_TYPE, "application/json")], json.to_string()).into_response()
        }
        Ok(Err(e)) => error(
            StatusCode::BAD_REQUEST,
            format!("cannot analyze the capture: {e:#}"),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the analysis failed: {e}"),
        ),
    }
}

async fn list(State(app): State<App>) -> Json<Vec<CaptureInfo>> {
    Json(app.0.captures.list())
}

async fn one(State(app): State<App>, UrlPath(id): UrlPath<usize>) -> Response {
    match app.0.captures.get(id) {
        Some(c) => ([(header::CONTENT_TYPE, "application/json")], c.json.to_string()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no capture {id}")),
    }
}
