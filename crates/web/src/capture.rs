//! Captures in the page: files given with `--pcap`, files dropped on the page (`POST /api/analyze`)
//! and live captures (`-i IFACE`, `--network NAME`, see [`crate::live`]), each analyzed by `analyze`
//! exactly as `sister analyze --format json` does.
//!
//! Routes:
//! - `POST /api/analyze` (body: a pcap or pcapng file; `?name=FILE` names it in the report;
//!   `&keep=1` adds it to the page's captures): the report as JSON, the same bytes
//!   `sister analyze --format json FILE` prints, hosts named the same way ([`Naming`]). The body is
//!   written to a private temporary directory (never elsewhere), analyzed on a blocking thread, and
//!   removed, unless kept: a kept capture's file stays in its temporary directory for as long as the
//!   server runs, because the page asks for messages' bytes later. Over the upload limit: 413 with
//!   the limit; a file that is not a capture, or is cut short before its first packet: 400 with one
//!   sentence that names the file as the user named it.
//! - `GET /api/captures`: the loaded captures (id, name, packets, conversations, live or not).
//! - `GET /api/captures/{id}`: one capture's report (as `sister analyze --format json`).
//! - `GET /api/captures/{id}/flow?conversation=N&protocol=MQTT,TCP`: the flow graph ([`crate::flow`]).
//! - `GET /api/captures/{id}/messages/{conversation}/{index}`: one message with its fields, and
//!   `.../bytes`: its bytes (`application/octet-stream`), cut from its direction's reassembled stream.
//!
//! What to notice:
//! - **Two reports, on purpose.** `sister analyze` keeps the detail of 1000 messages per conversation
//!   and 20,000 in all (the rest are only counted) so that a 1 GB capture stays fast. The page
//!   promises to draw every message up to [`VIEW_MAX_MESSAGES`], so when the CLI's report left some
//!   out, the view analyzes the file a second time with the larger limits. `/api/analyze` and
//!   `/api/captures/{id}` stay the CLI's report, byte for byte; only the view's own routes use the
//!   second one. A lab capture (a few thousand messages) is read once.
//! - **Bytes are read again, not kept.** The analyzer does not keep the bytes it dissects. When the
//!   page asks for a message's bytes, the file is read once more with `--follow`'s option for that
//!   conversation (its reassembled streams, both directions), and the message is cut at its `offset`
//!   and `len`. The last few conversations' streams are cached ([`STREAM_CACHE`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use analyze::flow::FollowChunk;
use analyze::render::Names;
use analyze::report::{Direction, Report};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::flow::{Filter, Flow};
use crate::server::{error, lock, App};

/// Messages the view keeps per conversation and in all (the CLI keeps 1000 and 20,000): enough for a
/// 100,000-message capture, and a bound on memory (a message with its fields is a few hundred bytes).
pub const VIEW_MAX_MESSAGES: usize = 200_000;

/// How many conversations' reassembled streams are kept for the bytes of their messages.
const STREAM_CACHE: usize = 4;

/// The most bytes of one message the page is sent (a hex dump of a 4 MB body helps nobody).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// How the reports name hosts, as `sister analyze` does: Docker's container names (a container whose
/// MAC address the capture saw on that IP, see `Names::of_containers`) unless `docker` is false
/// (`sister web --no-docker`, as `sister analyze --no-docker`), then the `--names` file, which wins.
/// So `POST /api/analyze` prints what `sister analyze --format json` prints with the same flags, on
/// the same machine at the same moment (Docker's containers are asked each time).
#[derive(Debug, Clone, Default)]
pub struct Naming {
    pub docker: bool,
    pub names: Names,
}

impl Naming {
    fn names_for(&self, report: &Report) -> Names {
        let mut names = Names::new();
        if self.docker {
            if let Ok(nets) = capture::docker::networks() {
                names = Names::of_containers(report, &nets);
            }
        }
        names.extend(self.names.clone());
        names
    }
}

/// Where a capture's packets are, to be read again for bytes.
#[derive(Debug)]
pub struct Source {
    pub paths: Vec<PathBuf>,
    /// An upload's private directory, removed when the capture is dropped.
    pub _dir: Option<tempfile::TempDir>,
}

/// One conversation's reassembled streams (what `--follow` records): chunks per direction, in order.
#[derive(Debug, Default)]
struct Streams {
    dirs: [Vec<FollowChunk>; 2],
}

impl Streams {
    /// The bytes at `offset..offset + len` of one direction, and whether all of them were there (a
    /// hole in the capture, or a stream past `--follow`'s 64 MiB, leaves some out).
    fn slice(&self, dir: Direction, offset: u64, len: u64) -> (Vec<u8>, bool) {
        let chunks = &self.dirs[dir.index()];
        let end = offset + len;
        let mut out = Vec::with_capacity(len as usize);
        // The first chunk that ends after `offset` (chunks are in stream order).
        let first = chunks.partition_point(|c| c.offset + c.data.len() as u64 <= offset);
        for c in &chunks[first..] {
            if c.offset >= end {
                break;
            }
            if c.offset > offset + out.len() as u64 {
                return (out, false);
            }
            let from = (offset + out.len() as u64 - c.offset) as usize;
            let to = ((end - c.offset) as usize).min(c.data.len());
            if from < to {
                out.extend_from_slice(&c.data[from..to]);
            }
        }
        let complete = out.len() as u64 == len;
        (out, complete)
    }
}

/// One analyzed capture.
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    /// `sister analyze --format json`'s output, as bytes to send as they are.
    pub json: Arc<str>,
    pub packets: u64,
    pub conversations: usize,
    /// The report the view draws (see the module's note: the CLI's, or one with larger limits).
    pub view: Arc<Report>,
    pub source: Source,
    /// A live capture still running: its report is replaced as packets arrive.
    pub live: bool,
    /// The unfiltered flow graph, made on first request.
    flow: OnceLock<Arc<str>>,
    streams: Mutex<Vec<(u32, Arc<Streams>)>>,
}

impl Loaded {
    /// The streams of conversation `id`, from the cache or by reading the files again.
    fn streams(&self, id: u32) -> Result<Arc<Streams>, String> {
        if let Some((_, s)) = lock(&self.streams).iter().find(|(c, _)| *c == id) {
            return Ok(s.clone());
        }
        let options = analyze::Options {
            follow: Some(id.to_string()),
            // Only the bytes are wanted: no message is kept.
            max_messages: 0,
            max_messages_total: 0,
            ..analyze::Options::default()
        };
        let a = analyze::analyze_files(&self.source.paths, &options).map_err(|e| e.to_string())?;
        let mut streams = Streams::default();
        for c in a.followed.map(|(_, chunks)| chunks).unwrap_or_default() {
            if c.gap == 0 {
                streams.dirs[c.direction.index()].push(c);
            }
        }
        for d in &mut streams.dirs {
            d.sort_by_key(|c| c.offset);
        }
        let streams = Arc::new(streams);
        let mut cache = lock(&self.streams);
        cache.insert(0, (id, streams.clone()));
        cache.truncate(STREAM_CACHE);
        Ok(streams)
    }
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

    /// Replace capture `id` (a live capture's newer report).
    pub fn replace(&self, id: usize, loaded: Loaded) {
        if let Some(slot) = lock(&self.0).get_mut(id.wrapping_sub(1)) {
            *slot = Arc::new(loaded);
        }
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
                live: c.live,
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
    live: bool,
}

/// How a loaded capture is shown: its name, and whether the view's report is wanted too.
pub struct Load<'a> {
    /// The name the user knows the file by (an upload's `?name=`), in place of the path it was read
    /// from (our temporary path, which means nothing to the user).
    pub shown_as: Option<&'a str>,
    pub naming: &'a Naming,
    /// Make the view's report as well (not for `POST /api/analyze` without `keep`).
    pub for_view: bool,
}

/// Analyze `paths` as `sister analyze --format json PATHS` does (blocking: call it off the runtime).
/// The error is one sentence for the page, naming the file as the user knows it.
pub fn load(paths: Vec<PathBuf>, how: &Load<'_>, dir: Option<tempfile::TempDir>) -> Result<Loaded, String> {
    let shown: Vec<String> = match how.shown_as {
        Some(n) => vec![n.to_string()],
        None => paths.iter().map(|p| p.display().to_string()).collect(),
    };
    let report = analyze_as_cli(&paths, &shown, how.naming, &analyze::Options::default())?;
    let mut json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    json.push('\n');
    let left_out = report.conversations.iter().any(|c| c.messages_omitted > 0);
    let view = if how.for_view && left_out {
        let options = analyze::Options {
            max_messages: VIEW_MAX_MESSAGES,
            max_messages_total: VIEW_MAX_MESSAGES,
            ..analyze::Options::default()
        };
        analyze_as_cli(&paths, &shown, how.naming, &options)?
    } else {
        report
    };
    Ok(Loaded {
        name: shown.join(" + "),
        json: json.into(),
        packets: view.capture.packets,
        conversations: view.conversations.len(),
        view: Arc::new(view),
        source: Source { paths, _dir: dir },
        live: false,
        flow: OnceLock::new(),
        streams: Mutex::new(Vec::new()),
    })
}

/// [`load`] for files on the command line (`sister web --pcap FILE`).
pub fn analyze_paths(paths: &[PathBuf], naming: &Naming) -> Result<Loaded, String> {
    let how = Load {
        shown_as: None,
        naming,
        for_view: true,
    };
    load(paths.to_vec(), &how, None)
}

/// One analysis, its report as the CLI would print it: files named as `shown` (the analyzer names
/// each file by the path it opened, in `capture.files` and in `problems`), hosts named by `naming`.
fn analyze_as_cli(
    paths: &[PathBuf],
    shown: &[String],
    naming: &Naming,
    options: &analyze::Options,
) -> Result<Report, String> {
    let rename = |s: &str| -> String {
        let mut s = s.to_string();
        for (p, name) in paths.iter().zip(shown) {
            s = s.replace(&p.display().to_string(), name);
        }
        s
    };
    let mut analysis = match analyze::analyze_files(paths, options) {
        Ok(a) => a,
        // `Error::Read` says `path: reason`; its source is the reason again (anyhow's `{:#}` would
        // print it twice), so the sentence is written here, once, with the user's name for the file.
        Err(analyze::Error::Read { path, source }) => return Err(format!("{}: {source}", rename(&path))),
        Err(e) => return Err(rename(&e.to_string())),
    };
    let report = &mut analysis.report;
    report.capture.files = shown.to_vec();
    for p in &mut report.problems {
        *p = rename(p);
    }
    if analysis.unusable {
        return Err(report.problems.join("; "));
    }
    naming.names_for(report).name_hosts(report);
    Ok(analysis.report)
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/analyze", post(analyze_upload))
        .route("/api/captures", get(list))
        .route("/api/captures/{id}", get(one))
        .route("/api/captures/{id}/flow", get(flow))
        .route("/api/captures/{id}/messages/{conv}/{index}", get(message))
        .route(
            "/api/captures/{id}/messages/{conv}/{index}/bytes",
            get(message_bytes),
        )
}

#[derive(Deserialize)]
struct UploadQuery {
    /// The file's name as the user knows it (the report's `capture.files`).
    name: Option<String>,
    /// Keep the capture in the page's list (the page does; `curl` need not).
    #[serde(default, deserialize_with = "flag")]
    keep: bool,
}

/// `keep=1`, `keep=true` or a bare `keep` (what a person types into a URL).
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = String::deserialize(d)?;
    Ok(!matches!(s.as_str(), "0" | "false" | "no"))
}

/// A file name safe to create inside our temporary directory: its last component, no `..`, no
/// separators (`../../etc/passwd` becomes `passwd`, inside the directory).
pub fn safe_name(name: Option<&str>) -> String {
    let base = name
        .and_then(|n| Path::new(n).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != ".." && !n.contains(['/', '\\']));
    base.unwrap_or_else(|| "upload.pcap".into())
}

/// Read the request body up to `limit` bytes. Over the limit, the rest is still read (up to four
/// times the limit) and thrown away before answering 413: a client that is still sending when the
/// server closes gets a reset instead of the answer, and a browser shows "Failed to fetch".
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the capture is larger than the upload limit of {} MiB (start sister web with a larger --upload-limit)",
                limit >> 20
            ),
        )
    };
    let mut stream = body.into_data_stream();
    let mut data = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| error(StatusCode::BAD_REQUEST, format!("the upload broke off: {e}")))?;
        seen += chunk.len();
        if seen <= limit {
            data.extend_from_slice(&chunk);
        } else if seen > limit.saturating_mul(4) {
            return Err(too_large());
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(data)
}

async fn analyze_upload(State(app): State<App>, Query(q): Query<UploadQuery>, body: Body) -> Response {
    let limit = app.0.options.upload_limit;
    let body = match read_body(body, limit).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "the request has no capture in its body");
    }
    // The report names the file as the user named it (it is only text there); the file on disk gets
    // a safe name inside a private directory.
    let shown = q
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "upload.pcap".into());
    let file_name = safe_name(q.name.as_deref());
    let naming = app.0.options.naming.clone();
    let keep = q.keep;
    let result = tokio::task::spawn_blocking(move || -> Result<Loaded, String> {
        // Mode 0700 from the start: tempfile's directories otherwise follow the umask (0755 here),
        // and another user of the machine could read a student's capture.
        let dir = tempfile::Builder::new()
            .prefix("sister-web-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let path = dir.path().join(&file_name);
        std::fs::write(&path, &body).map_err(|e| format!("cannot store the upload: {e}"))?;
        let how = Load {
            shown_as: Some(&shown),
            naming: &naming,
            for_view: keep,
        };
        // The directory goes with the capture: removed as soon as the answer is sent, unless kept.
        load(vec![path], &how, Some(dir))
    })
    .await;
    match result {
        Ok(Ok(loaded)) => {
            let json = loaded.json.clone();
            if keep {
                let id = app.0.captures.add(loaded);
                app.0.events.send("capture", &serde_json::json!({ "id": id }));
            }
            ([(header::CONTENT_TYPE, "application/json")], json.to_string()).into_response()
        }
        Ok(Err(sentence)) => error(StatusCode::BAD_REQUEST, sentence),
        // The analyzer panicked: a bug, but only this request fails; the server goes on.
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the analysis failed (a bug in sister, please report it): {e}"),
        ),
    }
}

async fn list(State(app): State<App>) -> Json<Vec<CaptureInfo>> {
    Json(app.0.captures.list())
}

fn no_capture(id: usize) -> Response {
    error(StatusCode::NOT_FOUND, format!("no capture {id}"))
}

async fn one(State(app): State<App>, UrlPath(id): UrlPath<usize>) -> Response {
    match app.0.captures.get(id) {
        Some(c) => ([(header::CONTENT_TYPE, "application/json")], c.json.to_string()).into_response(),
        None => no_capture(id),
    }
}

#[derive(Deserialize)]
struct FlowQuery {
    conversation: Option<u32>,
    /// Comma-separated protocols (`MQTT,TCP`); absent or empty: all.
    protocol: Option<String>,
}

async fn flow(State(app): State<App>, UrlPath(id): UrlPath<usize>, Query(q): Query<FlowQuery>) -> Response {
    let Some(c) = app.0.captures.get(id) else {
        return no_capture(id);
    };
    let filter = Filter {
        conversation: q.conversation,
        protocols: q
            .protocol
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect::<BTreeSet<_>>(),
    };
    let lang = app.0.options.lang;
    let json = tokio::task::spawn_blocking(move || -> Result<Arc<str>, String> {
        let make = || -> Result<Arc<str>, String> {
            let mut v =
                serde_json::to_value(Flow::build(&c.view, &filter, lang)).map_err(|e| e.to_string())?;
            v["id"] = id.into();
            v["name"] = c.name.clone().into();
            v["live"] = c.live.into();
            v["packets"] = c.view.capture.packets.into();
            v["duration"] = c.view.capture.duration.into();
            Ok(serde_json::to_string(&v).map_err(|e| e.to_string())?.into())
        };
        if filter == Filter::default() {
            if let Some(j) = c.flow.get() {
                return Ok(j.clone());
            }
            let j = make()?;
            let _ = c.flow.set(j.clone());
            Ok(j)
        } else {
            make()
        }
    })
    .await;
    match json {
        Ok(Ok(j)) => ([(header::CONTENT_TYPE, "application/json")], j.to_string()).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the flow graph failed: {e}"),
        ),
    }
}

/// The message `index` of conversation `conv` in capture `id`, with the capture.
/// (An error is a status and its sentence: a whole `Response` is too large to return by value.)
fn find_message(
    app: &App,
    id: usize,
    conv: u32,
    index: usize,
) -> Result<(Arc<Loaded>, usize), (StatusCode, String)> {
    let c = app
        .0
        .captures
        .get(id)
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no capture {id}")))?;
    let ci = c
        .view
        .conversations
        .iter()
        .position(|x| x.id == conv)
        .ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("no conversation {conv} in capture {id}"),
            )
        })?;
    if index >= c.view.conversations[ci].messages.len() {
        return Err((
            StatusCode::NOT_FOUND,
            format!("conversation {conv} has no message {index} with detail"),
        ));
    }
    Ok((c, ci))
}

async fn message(
    State(app): State<App>,
    UrlPath((id, conv, index)): UrlPath<(usize, u32, usize)>,
) -> Response {
    let (c, ci) = match find_message(&app, id, conv, index) {
        Ok(x) => x,
        Err((status, sentence)) => return error(status, sentence),
    };
    let cv = &c.view.conversations[ci];
    let m = &cv.messages[index];
    let (from, to) = match m.direction {
        Direction::ClientToServer => (&cv.client, &cv.server),
        Direction::ServerToClient => (&cv.server, &cv.client),
    };
    Json(serde_json::json!({
        "conversation": conv,
        "index": index,
        "from": from,
        "to": to,
        "message": m,
    }))
    .into_response()
}

/// The message's bytes, at most [`MAX_MESSAGE_BYTES`]; headers say how many there are in all
/// (`X-Message-Length`) and whether some could not be found in the capture (`X-Bytes-Missing`).
async fn message_bytes(
    State(app): State<App>,
    UrlPath((id, conv, index)): UrlPath<(usize, u32, usize)>,
) -> Response {
    let (c, ci) = match find_message(&app, id, conv, index) {
        Ok(x) => x,
        Err((status, sentence)) => return error(status, sentence),
    };
    let m = c.view.conversations[ci].messages[index].clone();
    let total = m.len;
    let got = tokio::task::spawn_blocking(move || {
        let streams = c.streams(conv)?;
        let len = m.len.min(MAX_MESSAGE_BYTES as u64);
        Ok::<_, String>(streams.slice(m.direction, m.offset, len))
    })
    .await;
    match got {
        Ok(Ok((bytes, complete))) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::HeaderName::from_static("x-message-length"),
                    total.to_string(),
                ),
                (
                    header::HeaderName::from_static("x-bytes-missing"),
                    if complete { "0" } else { "1" }.to_string(),
                ),
            ],
            Bytes::from(bytes),
        )
            .into_response(),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the capture again: {e}"),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the bytes failed: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(dir: Direction, offset: u64, data: &[u8]) -> FollowChunk {
        FollowChunk {
            direction: dir,
            t: 0.0,
            offset,
            data: data.to_vec(),
            gap: 0,
        }
    }

    #[test]
    fn a_message_is_cut_across_chunks_and_a_hole_is_said() {
        let c2s = Direction::ClientToServer;
        let s = Streams {
            dirs: [
                vec![
                    chunk(c2s, 0, b"hello "),
                    chunk(c2s, 6, b"world"),
                    chunk(c2s, 20, b"late"),
                ],
                vec![],
            ],
        };
        assert_eq!(s.slice(c2s, 4, 5), (b"o wor".to_vec(), true));
        assert_eq!(s.slice(c2s, 0, 11), (b"hello world".to_vec(), true));
        assert_eq!(s.slice(c2s, 9, 13), (b"ld".to_vec(), false));
        assert_eq!(s.slice(c2s, 21, 2), (b"at".to_vec(), true));
        assert_eq!(s.slice(Direction::ServerToClient, 0, 1), (vec![], false));
    }

    #[test]
    fn names_stay_inside_the_directory() {
        assert_eq!(safe_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(safe_name(Some("/tmp/x.pcap")), "x.pcap");
        assert_eq!(safe_name(Some("..")), "upload.pcap");
        assert_eq!(safe_name(Some("a\\..\\b.pcap")), "upload.pcap");
        assert_eq!(safe_name(None), "upload.pcap");
    }
}
