//! The page's files, embedded in the binary at build time (`include_str!`): `sister web` needs no
//! files next to it, no npm and no network (no CDN), so it works offline in a classroom and in the
//! FROM-scratch image.
//!
//! The page is plain HTML, CSS and JavaScript (no framework, no build step): a student can read
//! `crates/web/assets/*.js` as they are served.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// (name, content type, content).
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "topics.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/topics.js"),
    ),
    (
        "capture.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/capture.js"),
    ),
    (
        "lamport.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/lamport.js"),
    ),
    (
        "lab.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/lab.js"),
    ),
];

const INDEX: &str = include_str!("../assets/index.html");

/// `no-cache`: the browser asks again each time (cheap on loopback), so a new `sister` binary's page
/// is never mixed with an old script from the cache.
const CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-cache");

pub(crate) async fn index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), CACHE], INDEX).into_response()
}

pub(crate) async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, ctype, body)) => ([(header::CONTENT_TYPE, *ctype), CACHE], *body).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no asset {name}")).into_response(),
    }
}
