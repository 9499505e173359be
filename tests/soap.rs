//! `sister soap`: zeep (the course's client) against sister's server from the WSDL alone, sister's client
//! against the course's spyne 2.14 server, the WSDL's shape compared with spyne's, and the faults.

use std::time::Duration;

use serde_json::Value;

use crate::util::{self, python, Proc};

const T: Duration = Duration::from_secs(30);

fn sister_server() -> (Proc, u16) {
    util::sister_server("soap")
}

fn spyne_server() -> (Proc, u16) {
    util::python_server(
        "course spyne server",
        "spyne",
        "tests/peers/course/soap_server.py",
    )
}

fn soap_probe(args: &[&str]) -> Vec<Value> {
    let script = util::repo().join("tests/peers/http/soap_probe.py");
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = python(Some("zeep"), &all).output().unwrap();
    assert!(
        out.status.success(),
        "soap_probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wsdl(port: u16) -> String {
    format!("http://127.0.0.1:{port}/?wsdl")
}

#[test]
fn course_zeep_client_against_sister_server() {
    let (_server, port) = sister_server();
    let script = util::repo().join("tests/peers/course/soap_client.py");
    let out = python(Some("zeep"), &[script.to_str().unwrap(), &wsdl(port)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Hasil penjumlahan dari server SOAP: 15\n"
    );
}

#[test]
fn zeep_calls_every_operation_and_reads_the_faults() {
    let (_server, port) = sister_server();
    let r = soap_probe(&[
        "zeep",
        &wsdl(port),
        "add",
        "10",
        "5",
        "subtract",
        "10",
        "15",
        "multiply",
        "10",
        "5",
        "divide",
        "7",
        "2",
        "sum_times_difference",
        "20",
        "30",
        "divide",
        "1",
        "0",
        "multiply",
        "9223372036854775807",
        "2",
    ]);
    let results: Vec<&Value> = r.iter().map(|v| &v["result"]).collect();
    assert_eq!(
        results[..5],
        [
            &Value::from(15),
            &Value::from(-5),
            &Value::from(50),
            &Value::from(3),
            &Value::from(-500)
        ]
    );
    assert_eq!(r[5]["fault_code"], "soap11env:Client.DivisionByZero");
    assert!(r[5]["fault_message"].as_str().unwrap().contains("1 / 0"));
    assert_eq!(r[6]["fault_code"], "soap11env:Client.Overflow");
}

/// For `add`, sister's WSDL is spyne's, element for element and attribute for attribute (only the
/// endpoint's port differs).
#[test]
fn wsdl_has_spynes_shape() {
    let (_spyne, spyne_port) = spyne_server();
    let (_sister, sister_port) = sister_server();
    let r = soap_probe(&["shape", &wsdl(spyne_port), &wsdl(sister_port)]);
    assert_eq!(r[0]["same"], true, "{}", r[0]);
}

#[test]
fn sister_client_against_course_spyne_server() {
    let (_spyne, port) = spyne_server();
    let out = util::sister(&["soap", "client", "--wsdl", &wsdl(port), "add", "10", "5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Hasil penjumlahan dari server SOAP: 15\n"
    );
    // The default call is the course's add(10, 5).
    let out = util::sister(&["soap", "client", "--wsdl", &wsdl(port)])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Hasil penjumlahan dari server SOAP: 15\n"
    );
    // spyne's own fault (schema validation) is printed, exit 1.
    let out = util::sister(&["soap", "client", "--wsdl", &wsdl(port), "add", "x", "5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("add(x, 5) failed: SOAP fault Client.SchemaValidationError"),
        "{text}"
    );
    // An operation the WSDL does not have: the client says which it has.
    let out = util::sister(&["soap", "client", "--wsdl", &wsdl(port), "divide", "1", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no operation `divide`; it has: add"), "{err}");
}

#[test]
fn sister_client_and_server_worksheet_modification() {
    let (_server, port) = sister_server();
    let out = util::sister(&[
        "soap",
        "client",
        "--wsdl",
        &wsdl(port),
        "sum_times_difference",
        "20",
        "30",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Hasil (a + b) * (a - b) dari server SOAP: -500\n"
    );
    let out = util::sister(&["soap", "client", "--wsdl", &wsdl(port), "add", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("add takes 2 arguments (a: integer, b: integer), 1 given"));
}

#[test]
fn faults_for_bad_requests() {
    let (_server, port) = sister_server();
    let dir = tempfile::tempdir().unwrap();
    let envelope = |body: &str| {
        format!(
            "<?xml version='1.0' encoding='utf-8'?>\n<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"
        )
    };
    let add = |a: &str| {
        envelope(&format!(
            "<ns0:add xmlns:ns0=\"spyne.examples.calculator\">{a}<ns0:b>5</ns0:b></ns0:add>"
        ))
    };
    let bodies: Vec<(String, &str)> = vec![
        // A DTD with an entity bomb: refused before any entity could expand.
        (
            format!(
                "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>{}",
                &add("<ns0:a>&lol2;</ns0:a>")[39..]
            ),
            "DOCTYPE",
        ),
        // An external entity (XXE): refused, nothing fetched.
        (
            format!(
                "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
                &add("<ns0:a>&e;</ns0:a>")[39..]
            ),
            "DOCTYPE",
        ),
        (add(""), "argument `a` of add is missing"),
        (add("<ns0:a>ten</ns0:a>"), "is not an integer"),
        ("not xml at all".into(), "malformed XML"),
        (
            envelope("<ns0:power xmlns:ns0=\"spyne.examples.calculator\"/>"),
            "no operation `power`",
        ),
        (
            envelope("<add><a>1</a><b>2</b></add>"),
            "not in the service namespace",
        ),
        (
            add("<ns0:a>1</ns0:a>").replace(
                "http://schemas.xmlsoap.org/soap/envelope/",
                "http://www.w3.org/2003/05/soap-envelope",
            ),
            "SOAP 1.2",
        ),
        // Over the size limit (64 KiB).
        (
            add(&format!("<ns0:a>1</ns0:a><!--{}-->", "x".repeat(70_000))),
            "larger than",
        ),
    ];
    let mut files = Vec::new();
    for (i, (body, _)) in bodies.iter().enumerate() {
        let path = dir.path().join(format!("{i}.xml"));
        std::fs::write(&path, body).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    let url = format!("http://127.0.0.1:{port}/");
    let mut args = vec!["post", url.as_str()];
    args.extend(files.iter().map(String::as_str));
    let r = soap_probe(&args);
    assert_eq!(r.len(), bodies.len());
    for ((_, want), got) in bodies.iter().zip(&r) {
        assert_eq!(
            got["status"], 500,
            "SOAP 1.1 §6.2: faults travel with HTTP 500: {got}"
        );
        assert_eq!(got["content_type"], "text/xml; charset=utf-8");
        let body = got["body"].as_str().unwrap();
        assert!(body.contains("<soap11env:Fault>"), "{body}");
        assert!(body.contains(want), "expected {want:?} in {body}");
        assert!(
            !body.contains("root:"),
            "nothing from /etc/passwd may appear: {body}"
        );
    }
    // Client faults for all of them, except the version mismatch.
    for got in r.iter() {
        let body = got["body"].as_str().unwrap();
        assert!(
            body.contains("<faultcode>soap11env:Client")
                || body.contains("<faultcode>soap11env:VersionMismatch"),
            "{body}"
        );
    }
}

#[test]
fn get_without_wsdl_is_refused_and_ctrl_c_stops() {
    let (mut server, port) = sister_server();
    let script = r#"
import sys, requests
r = requests.get(sys.argv[1], timeout=10)
print(r.status_code, r.headers.get("Allow"))
"#;
    let out = python(
        Some("requests"),
        &["-c", script, &format!("http://127.0.0.1:{port}/")],
    )
    .output()
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "405 GET, POST");
    let status = server.interrupt(T).expect("the server exits after Ctrl+C");
    assert!(status.success(), "{}", server.output());
}
