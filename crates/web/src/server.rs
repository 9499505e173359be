//! The HTTP surface of `sister web`: the page, its JSON API and its live stream.
//!
//! Routes (every one is used by the page; `curl` works on all of them):
//! - `GET /` the page; `GET /assets/{file}` its CSS and scripts ([`crate::assets`]).
//! - `GET /api/info` what this server shows (broker, captures, Lamport run, language).
//! - `GET /api/events` server-sent events: `topics` (a batch of topic changes), `broker` (the broker
//!   connection's status, [`crate::feed::BrokerStatus`]), `capture` (a capture
//!   was added), `lab` (a lab step began or ended), `resync` (the page fell behind: fetch snapshots
//!   again).
//! - Topics: `GET /api/topics`, `GET /api/topic?name=T`, `POST /api/publish` ([`crate::topics`]).
//! - Captures: see [`crate::capture::routes`].
//! - `GET /api/lamport` the recorded Lamport run ([`crate::lamport`]).
//! - `GET /api/lab` the steps of `sister lab --web` ([`crate::lab`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream};
use patterns::shutdown::Signal;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};

use crate::feed::BrokerStatus;
use crate::topics::{PublishRequest, TopicTree};

/// What `sister web` was asked to show.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `en` or `id`: the page's language (as `--lang` elsewhere).
    pub lang: analyze::render::Lang,
    /// The broker the topic tree follows, as the user gave it (`HOST:PORT`), if any.
    pub broker: Option<String>,
    /// Largest capture a browser may upload (`POST /api/analyze`), in bytes.
    pub upload_limit: usize,
    /// Messages of history kept per topic.
    pub history: usize,
    /// How the capture reports name hosts (as `sister analyze` does; see [`crate::capture::Naming`]).
    pub naming: crate::capture::Naming,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            lang: analyze::render::Lang::En,
            broker: None,
            upload_limit: 64 << 20,
            history: crate::topics::DEFAULT_HISTORY,
            naming: crate::capture::Naming::default(),
        }
    }
}

/// The state every request shares.
#[derive(Clone)]
pub struct App(pub Arc<AppState>);

pub struct AppState {
    pub options: WebOptions,
    pub events: Events,
    pub topics: Mutex<TopicTree>,
    /// Where `POST /api/publish` hands messages to the broker connection ([`crate::feed`]).
    pub publish: Mutex<Option<mpsc::Sender<crate::feed::Outgoing>>>,
    pub captures: crate::capture::Captures,
    pub lamport: Mutex<Option<serde_json::Value>>,
    /// `sister lab --web`: the lab's steps so far (None when this is not a lab run).
    pub lab: Mutex<Option<Vec<crate::lab::LabStep>>>,
    /// What the broker connection is doing (`connecting`, `connected`, the last error), for the page.
    pub broker_status: Mutex<BrokerStatus>,
    /// Set when the server stops: every open event stream then ends, or the graceful shutdown would
    /// wait forever for pages that never close their stream.
    closing: tokio::sync::watch::Sender<bool>,
}

impl App {
    pub fn new(options: WebOptions) -> App {
        let history = options.history;
        App(Arc::new(AppState {
            options,
            events: Events::new(),
            topics: Mutex::new(TopicTree::new(history)),
            publish: Mutex::new(None),
            captures: crate::capture::Captures::default(),
            lamport: Mutex::new(None),
            lab: Mutex::new(None),
            broker_status: Mutex::new(BrokerStatus::default()),
            closing: tokio::sync::watch::channel(false).0,
        }))
    }

    pub fn topics(&self) -> MutexGuard<'_, TopicTree> {
        lock(&self.0.topics)
    }

    pub fn set_broker_status(&self, status: BrokerStatus) {
        self.0.events.send("broker", &status);
        *lock(&self.0.broker_status) = status;
    }

    pub fn set_lamport(&self, run: serde_json::Value) {
        *lock(&self.0.lamport) = Some(run);
        self.0.events.send("lamport", &serde_json::json!({}));
    }
}

/// A poisoned lock only means another request panicked while holding it; the data is still usable
/// (every writer leaves it consistent), so the page keeps working.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The live stream to every open page: named events with a JSON body.
///
/// A broadcast channel: a page that reads too slowly loses events (`Lagged`) rather than making the
/// server keep them for it; it is then told to `resync` (fetch the snapshots again).
#[derive(Clone)]
pub struct Events(broadcast::Sender<(&'static str, Arc<str>)>);

impl Events {
    fn new() -> Events {
        Events(broadcast::channel(1024).0)
    }

    /// Push `data` as event `name` to every open page (nobody listening is fine).
    pub fn send(&self, name: &'static str, data: &impl Serialize) {
        if self.0.receiver_count() == 0 {
            return;
        }
        match serde_json::to_string(data) {
            Ok(json) => {
                let _ = self.0.send((name, json.into()));
            }
            Err(e) => tracing::warn!("event {name} not sent: {e}"),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<(&'static str, Arc<str>)> {
        self.0.subscribe()
    }
}

/// The whole router: the page, the API and the stream.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(crate::assets::index))
        .route("/assets/{file}", get(crate::assets::file))
        .route("/api/info", get(info))
        .route("/api/events", get(events))
        .route("/api/topics", get(topics))
        .route("/api/topic", get(topic))
        .route("/api/publish", post(publish))
        .route("/api/lamport", get(lamport))
        .merge(crate::capture::routes())
        .merge(crate::lab::routes())
        .with_state(app)
}

/// Serve until `shutdown`; open event streams are ended then, so the server does not wait for pages.
pub async fn serve(listener: TcpListener, app: App, mut shutdown: Signal) -> std::io::Result<()> {
    let mut stop = shutdown.clone();
    let closing = app.0.closing.clone();
    let router = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            stop.recv().await;
            closing.send_replace(true);
        })
        .await?;
    shutdown.recv().await;
    Ok(())
}

#[derive(Serialize)]
struct Info {
    version: &'static str,
    lang: String,
    broker: Option<String>,
    broker_status: BrokerStatus,
    can_publish: bool,
    captures: usize,
    lamport: bool,
    lab: bool,
    upload_limit: usize,
}

async fn info(State(app): State<App>) -> Json<Info> {
    let s = &app.0;
    Json(Info {
        version: env!("CARGO_PKG_VERSION"),
        lang: s.options.lang.to_string(),
        broker: s.options.broker.clone(),
        broker_status: lock(&s.broker_status).clone(),
        can_publish: lock(&s.publish).is_some(),
        captures: s.captures.len(),
        lamport: lock(&s.lamport).is_some(),
        lab: lock(&s.lab).is_some(),
        upload_limit: s.options.upload_limit,
    })
}

/// `GET /api/events`: the live stream (server-sent events, which every browser reconnects by itself).
async fn events(State(app): State<App>) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let rx = app.0.events.subscribe();
    let closing = app.0.closing.subscribe();
    let stream = stream::unfold((rx, closing), |(mut rx, mut closing)| async move {
        let received = tokio::select! {
            r = rx.recv() => r,
            _ = closing.wait_for(|c| *c) => return None,
        };
        let event = match received {
            Ok((name, data)) => Event::default().event(name).data(&*data),
            Err(broadcast::error::RecvError::Lagged(n)) => Event::default()
                .event("resync")
                .data(format!("{{\"missed\":{n}}}")),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), (rx, closing)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn topics(State(app): State<App>) -> Response {
    let snapshot = app.topics().snapshot();
    Json(snapshot).into_response()
}

#[derive(Deserialize)]
struct TopicQuery {
    name: String,
}

async fn topic(State(app): State<App>, Query(q): Query<TopicQuery>) -> Response {
    match app.topics().detail(&q.name) {
        Some(d) => Json(d).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no message seen on topic {:?}", q.name),
        ),
    }
}

/// How long the page waits for the broker to take a message (QoS 2 needs two round trips).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// `POST /api/publish`: `200 {"ok":true}` once the message went out (and, for QoS 1 and 2, the
/// broker acknowledged it), else an error sentence: a bad topic or QoS (400), no broker (409), not
/// connected or refused by the broker (503), no answer in time (504).
async fn publish(State(app): State<App>, Json(req): Json<PublishRequest>) -> Response {
    if let Err(e) = req.check() {
        return error(StatusCode::BAD_REQUEST, e);
    }
    let tx = lock(&app.0.publish).clone();
    let Some(tx) = tx else {
        return error(
            StatusCode::CONFLICT,
            "no broker: start sister web with --broker HOST:PORT",
        );
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if tx.send((req, reply)).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the broker connection has ended");
    }
    match tokio::time::timeout(PUBLISH_TIMEOUT, answer).await {
        Ok(Ok(Ok(()))) => Json(serde_json::json!({ "ok": true })).into_response(),
        Ok(Ok(Err(why))) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Ok(Err(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "the broker connection has ended"),
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the broker did not take the message within {} s",
                PUBLISH_TIMEOUT.as_secs()
            ),
        ),
    }
}

async fn lamport(State(app): State<App>) -> Response {
    match lock(&app.0.lamport).clone() {
        Some(run) => Json(run).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "no Lamport run: record one with `sister lamport sim --record run.json` and start `sister web --lamport run.json`",
        ),
    }
}

/// Every API error is JSON `{"error": "..."}` with a sentence the page shows as it is.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}
