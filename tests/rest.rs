//! `sister rest`: against the course's Flask server and its `requests` client, both directions, and
//! every error path of sister's server seen through `requests`.

use std::time::Duration;

use serde_json::Value;

use crate::util::{self, python, Proc};

const T: Duration = Duration::from_secs(30);

fn sister_server() -> (Proc, u16) {
    util::sister_server("rest")
}

fn flask_server() -> (Proc, u16) {
    util::python_server(
        "course Flask server",
        "flask",
        "tests/peers/course/rest_server.py",
    )
}

/// Run `rest_probe.py` (requests) against `port` for `paths`; one JSON object per path.
fn probe(port: u16, paths: &[&str]) -> Vec<Value> {
    let script = util::repo().join("tests/peers/http/rest_probe.py");
    let base = format!("http://127.0.0.1:{port}");
    let mut args = vec![script.to_str().unwrap(), base.as_str()];
    args.extend_from_slice(paths);
    let out = python(Some("requests"), &args).output().unwrap();
    assert!(
        out.status.success(),
        "rest_probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn course_client_against_sister_server() {
    let (_server, port) = sister_server();
    let script = util::repo().join("tests/peers/course/rest_client.py");
    let url = format!("http://127.0.0.1:{port}");
    let run = |a: &str, b: &str| {
        let out = python(
            Some("requests"),
            &[
                script.to_str().unwrap(),
                "--server",
                &url,
                "--op",
                "both",
                "-a",
                a,
                "-b",
                b,
            ],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run("10", "5"), "add(10,5) = 15\nmul(10,5) = 50\n");
    assert_eq!(
        run("10", "x"),
        "add(10,x) failed: HTTP 400 {'error': 'Invalid input'}\nmul(10,x) failed: HTTP 400 {'error': 'Invalid input'}\n"
    );
}

/// The course's routes answer byte for byte what Flask answers: status, content type and body.
#[test]
fn sister_answers_exactly_as_flask() {
    let (_flask, flask_port) = flask_server();
    let (_sister, sister_port) = sister_server();
    let paths = [
        "/add?a=10&b=5",
        "/mul?a=10&b=5",
        "/add?a=-3&b=+4",
        "/add?a=%2010%20&b=5",
        "/add?a=10",
        "/add?b=5",
        "/add",
        "/mul?a=x&b=5",
        "/mul?a=1.5&b=2",
        "/add?a=&b=1",
        "/add?a=1&a=2&b=3",
    ];
    let flask = probe(flask_port, &paths);
    let sister = probe(sister_port, &paths);
    assert_eq!(flask.len(), paths.len());
    for (f, s) in flask.iter().zip(&sister) {
        assert_eq!(f, s, "sister differs from Flask");
    }
    assert_eq!(sister[0]["body"], "{\"result\":15}\n");
    assert_eq!(sister[4]["body"], "{\"error\":\"Invalid input\"}\n");
}

#[test]
fn sister_client_against_course_flask_server() {
    let (_flask, port) = flask_server();
    let server = format!("127.0.0.1:{port}");
    let out = util::sister(&[
        "rest", "client", "--server", &server, "--op", "both", "-a", "10", "-b", "5",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "add(10,5) = 15\nmul(10,5) = 50\n"
    );

    // A 400 is printed clearly and the exit code says it failed.
    let out = util::sister(&[
        "rest", "client", "--server", &server, "--op", "add", "-a", "ten", "-b", "5",
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "add(ten,5) failed: HTTP 400: Invalid input\n"
    );

    // Flask has no /sub: its HTML 404 page is shown as it came.
    let out = util::sister(&["rest", "client", "--server", &server, "--op", "sub"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with("sub(10,5) failed: HTTP 404: Not Found"),
        "{line}"
    );
}

#[test]
fn sister_client_and_server_every_operation() {
    let (_server, port) = sister_server();
    let server = format!("127.0.0.1:{port}");
    for (op, a, b, want) in [
        ("add", "10", "5", "add(10,5) = 15"),
        ("mul", "10", "5", "mul(10,5) = 50"),
        ("sub", "10", "15", "sub(10,15) = -5"),
        ("div", "-7", "2", "div(-7,2) = -3"),
    ] {
        let out = util::sister(&[
            "rest", "client", "--server", &server, "--op", op, "-a", a, "-b", b,
        ])
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), want);
    }
    let out = util::sister(&[
        "rest", "client", "--server", &server, "--op", "div", "-a", "1", "-b", "0",
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "div(1,0) failed: HTTP 400: Division by zero: 1 / 0 has no answer"
    );
}

#[test]
fn error_paths_seen_by_requests() {
    let (_server, port) = sister_server();
    let r = probe(
        port,
        &[
            "/add?a=9223372036854775807&b=1",
            "/sub?a=-9223372036854775808&b=1",
            "/mul?a=4611686018427387904&b=2",
            "/div?a=-9223372036854775808&b=-1",
            "/add?a=99999999999999999999&b=1",
            "/div?a=1&b=0",
            "/pow?a=1&b=2",
            "POST /add?a=1&b=2",
            "/openapi.json",
        ],
    );
    for v in &r[..5] {
        assert_eq!(v["status"], 400, "{v}");
        assert_eq!(v["content_type"], "application/json");
        let body: Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
        assert!(body["error"].as_str().unwrap().starts_with("Overflow: "), "{v}");
    }
    assert_eq!(r[5]["status"], 400);
    assert!(r[5]["body"].as_str().unwrap().contains("Division by zero"));
    assert_eq!(r[6]["status"], 404);
    assert_eq!(r[6]["content_type"], "application/json");
    assert!(r[6]["body"].as_str().unwrap().contains("Not found: /pow"));
    assert_eq!(r[7]["status"], 405);
    assert!(r[7]["body"].as_str().unwrap().contains("Method not allowed"));
    assert_eq!(r[8]["status"], 200);
    let api: Value = serde_json::from_str(r[8]["body"].as_str().unwrap()).unwrap();
    assert_eq!(api["openapi"], "3.0.3");
    for path in ["/add", "/mul", "/sub", "/div"] {
        assert!(api["paths"][path]["get"]["parameters"].is_array(), "{path}");
    }
}

#[test]
fn server_stops_on_ctrl_c() {
    let (mut server, _) = sister_server();
    let status = server.interrupt(T).expect("the server exits after Ctrl+C");
    assert!(status.success(), "{}", server.output());
}
