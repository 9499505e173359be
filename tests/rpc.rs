//! `sister rpc`: against the course's json-rpc 1.15 server on BaseHTTPServer (HTTP/1.0, no
//! Content-Length) and the course's `requests` client, and the JSON-RPC 2.0 spec's rules seen through
//! `requests`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::util::{self, local, python, Proc};

const T: Duration = Duration::from_secs(30);

fn sister_server() -> (Proc, u16) {
    util::sister_server("rpc")
}

fn course_server() -> (Proc, u16) {
    util::python_server(
        "course json-rpc server",
        "jsonrpc",
        "tests/peers/course/rpc_server.py",
    )
}

/// POST each body with `requests`; (HTTP status, parsed JSON body or Null when empty).
fn probe(port: u16, bodies: &[&str]) -> Vec<(u16, Value)> {
    let script = util::repo().join("tests/peers/http/rpc_probe.py");
    let url = format!("http://127.0.0.1:{port}/");
    let mut args = vec![script.to_str().unwrap(), url.as_str()];
    args.extend_from_slice(bodies);
    let out = python(Some("requests"), &args).output().unwrap();
    assert!(
        out.status.success(),
        "rpc_probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let body = v["body"].as_str().unwrap();
            let parsed = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"))
            };
            (v["status"].as_u64().unwrap() as u16, parsed)
        })
        .collect()
}

fn sister_rpc(args: &[&str]) -> (bool, String) {
    let out = util::sister(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn course_client_against_sister_server() {
    let (_server, port) = sister_server();
    let script = util::repo().join("tests/peers/course/rpc_client.py");
    let out = python(
        Some("requests"),
        &[script.to_str().unwrap(), &format!("http://127.0.0.1:{port}/")],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // sister's add adds (the course's server divides: a bug LAB.md says not to copy).
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Result of add: 12\nResult of multiply: 50\n"
    );
}

#[test]
fn sister_client_against_course_server() {
    let (_server, port) = course_server();
    let server = format!("127.0.0.1:{port}");
    // The course's calls: the real server answers over HTTP/1.0 without Content-Length.
    let (ok, out) = sister_rpc(&["rpc", "client", "--server", &server]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("Result of add: 5.0\nResult of multiply: 50\n"),
        "the course's add divides, and sister prints what it answered: {out}"
    );
    let (ok, out) = sister_rpc(&["rpc", "client", "--server", &server, "multiply", "6", "7"]);
    assert!(ok, "{out}");
    assert!(out.starts_with("Result of multiply: 42\n"), "{out}");
    // A batch, answered by json-rpc's batch support.
    let (ok, out) = sister_rpc(&[
        "rpc",
        "client",
        "--server",
        &server,
        "--batch",
        "add 10 2",
        "multiply 10 5",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("Result of add: 5.0\nResult of multiply: 50\n"),
        "{out}"
    );
    // A notification: the course's server sends 200 with an empty body, which is "no answer".
    let (ok, out) = sister_rpc(&["rpc", "client", "--server", &server, "--notify", "add", "1", "1"]);
    assert!(ok, "{out}");
    assert!(out.contains("notification"), "{out}");
    // An error from the real server is printed, and the exit code says so.
    let (ok, out) = sister_rpc(&["rpc", "client", "--server", &server, "power", "2", "3"]);
    assert!(!ok);
    assert!(
        out.starts_with("Error from power: error -32601 Method not found"),
        "{out}"
    );
}

#[test]
fn sister_client_and_server() {
    let (_server, port) = sister_server();
    let server = format!("127.0.0.1:{port}");
    let (ok, out) = sister_rpc(&["rpc", "client", "--server", &server, "add", "10", "2"]);
    assert!(ok, "{out}");
    assert!(out.starts_with("Result of add: 12\n"), "{out}");
    let (ok, out) = sister_rpc(&[
        "rpc",
        "client",
        "--server",
        &server,
        "--batch",
        "add 10 2",
        "subtract minuend=42 subtrahend=23",
        "divide 7.0 2",
        "divide 1 0",
    ]);
    assert!(!ok, "division by zero makes the exit code 1");
    assert!(
        out.starts_with(
            "Result of add: 12\nResult of subtract: 19\nResult of divide: 3.5\n\
Error from divide: error 1 Division by zero: 1 / 0 has no answer\n"
        ),
        "{out}"
    );
}

#[test]
fn the_spec_through_requests() {
    let (_server, port) = sister_server();
    let r = probe(
        port,
        &[
            // 0: positional, 1: named
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#,
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
            // 2: a notification, 3: a batch of notifications only: no body at all
            r#"{"jsonrpc": "2.0", "method": "add", "params": [1, 2]}"#,
            r#"[{"jsonrpc": "2.0", "method": "add", "params": [1, 2]}, {"jsonrpc": "2.0", "method": "nope"}]"#,
            // 4: parse error, 5: invalid request, 6: empty batch, 7: invalid batch entries
            r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#,
            r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#,
            "[]",
            "[1, 2]",
            // 8: method not found, 9: invalid params with data, 10: application error
            r#"{"jsonrpc": "2.0", "method": "power", "params": [2, 3], "id": "x"}"#,
            r#"{"jsonrpc": "2.0", "method": "add", "params": [1], "id": 9}"#,
            r#"{"jsonrpc": "2.0", "method": "divide", "params": [1, 0], "id": 10}"#,
            // 11: ids of every type echoed, in a mixed batch
            r#"[{"jsonrpc": "2.0", "method": "add", "params": [1, 1], "id": "abc"},
                {"jsonrpc": "2.0", "method": "add", "params": [1, 1], "id": 1.5},
                {"jsonrpc": "2.0", "method": "add", "params": [1, 1], "id": null},
                {"jsonrpc": "2.0", "method": "add", "params": [1, 1]},
                {"foo": "boo"}]"#,
            // 12: overflow is an application error, not a wrapped number
            r#"{"jsonrpc": "2.0", "method": "add", "params": [9223372036854775807, 1], "id": 12}"#,
        ],
    );
    assert_eq!(r[0], (200, json!({"jsonrpc": "2.0", "result": 19, "id": 1})));
    assert_eq!(r[1], (200, json!({"jsonrpc": "2.0", "result": 19, "id": 3})));
    assert_eq!(r[2], (204, Value::Null));
    assert_eq!(r[3], (204, Value::Null));
    let code = |v: &Value| v["error"]["code"].as_i64().unwrap();
    assert_eq!(code(&r[4].1), -32700);
    assert_eq!(r[4].1["id"], Value::Null);
    assert_eq!(code(&r[5].1), -32600);
    assert_eq!(code(&r[6].1), -32600);
    assert_eq!(r[7].1.as_array().unwrap().len(), 2);
    assert!(r[7].1.as_array().unwrap().iter().all(|e| code(e) == -32600));
    assert_eq!(code(&r[8].1), -32601);
    assert_eq!(r[8].1["id"], "x");
    assert_eq!(code(&r[9].1), -32602);
    assert!(r[9].1["error"]["data"].as_str().unwrap().contains("2 parameters"));
    assert_eq!(code(&r[10].1), 1);
    assert_eq!(r[10].1["error"]["message"], "Division by zero");
    let batch = r[11].1.as_array().unwrap();
    assert_eq!(batch.len(), 4, "the notification gets no answer: {batch:?}");
    assert_eq!(batch[0]["id"], "abc");
    assert_eq!(batch[1]["id"], json!(1.5));
    assert_eq!(batch[2]["id"], Value::Null);
    assert_eq!(batch[2]["result"], 2);
    assert_eq!(code(&batch[3]), -32600);
    assert_eq!(code(&r[12].1), 2);
}

#[test]
fn http_errors_are_json_rpc_errors_too() {
    let (_server, port) = sister_server();
    let url = format!("http://127.0.0.1:{port}/");
    let script = r#"
import json, sys, requests
url = sys.argv[1]
r = requests.get(url, timeout=10)
print(json.dumps([r.status_code, r.json()["error"]["code"]]))
r = requests.post(url + "other", data="{}", timeout=10)
print(json.dumps([r.status_code, r.json()["error"]["code"]]))
r = requests.post(url, data=b"[" + b"1," * 600000 + b"1]", timeout=10)
print(json.dumps([r.status_code, r.json()["error"]["code"]]))
"#;
    let out = python(Some("requests"), &["-c", script, &url]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0], json!([405, -32600]), "GET is not JSON-RPC");
    assert_eq!(lines[1], json!([404, -32600]), "only POST / is");
    assert_eq!(lines[2], json!([413, -32600]), "a body over the limit is refused");
}

/// Raw bytes, no client library: an HTTP/1.0 request (as old tools send) gets an HTTP/1.0 answer and
/// the connection closes after it; a chunked HTTP/1.1 body is read too.
#[test]
fn raw_http_framings() {
    use std::io::{Read, Write};
    let (_server, port) = sister_server();
    let body = r#"{"jsonrpc":"2.0","method":"add","params":[10,2],"id":"x"}"#;
    let exchange = |request: String| {
        let mut s = std::net::TcpStream::connect(local(port)).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let out = exchange(format!(
        "POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
    assert!(out.contains("content-length: 38\r\n"), "{out}");
    assert!(
        out.ends_with("\r\n\r\n{\"jsonrpc\":\"2.0\",\"result\":12,\"id\":\"x\"}"),
        "{out}"
    );
    // HTTP/1.1 keeps the connection open: `Connection: close` asks the server to close after answering.
    let out = exchange(format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    ));
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(
        out.ends_with("{\"jsonrpc\":\"2.0\",\"result\":12,\"id\":\"x\"}"),
        "{out}"
    );
}
