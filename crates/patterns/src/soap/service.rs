//! The SOAP calculator: its description (the WSDL's contents) and what each call does, without I/O.

use std::panic::{catch_unwind, AssertUnwindSafe};

use wire::soap::{Call, Fault};
use wire::wsdl::{Field, Operation, Service};

use crate::calc::{self, CalcError, Op};

/// The course's names (LAB.md): spyne's calculator example.
pub const TNS: &str = "spyne.examples.calculator";
pub const SERVICE: &str = "CalculatorService";
pub const PORT_NAME: &str = "Application";

/// The operations: the course's `add`, three more, and the worksheet's modification as its own
/// operation (so `add` stays what zeep expects).
pub const OPERATIONS: [(&str, Op); 5] = [
    ("add", Op::Add),
    ("subtract", Op::Sub),
    ("multiply", Op::Mul),
    ("divide", Op::Div),
    ("sum_times_difference", Op::SumTimesDifference),
];

/// Each operation's response element and its one child, as spyne names them (`addResponse`,
/// `addResult`), in the order of [`OPERATIONS`]: written out so that answering a call formats no names.
const ANSWER_NAMES: [(&str, &str); 5] = [
    ("addResponse", "addResult"),
    ("subtractResponse", "subtractResult"),
    ("multiplyResponse", "multiplyResult"),
    ("divideResponse", "divideResult"),
    ("sum_times_differenceResponse", "sum_times_differenceResult"),
];

/// The service as the WSDL describes it, with `location` as its endpoint.
pub fn describe(location: &str) -> Service {
    Service {
        tns: TNS.into(),
        name: SERVICE.into(),
        port: PORT_NAME.into(),
        location: location.into(),
        operations: OPERATIONS
            .iter()
            .map(|(name, _)| Operation {
                name: name.to_string(),
                // spyne's soapAction is the operation's name.
                soap_action: name.to_string(),
                inputs: vec![Field::new("a", "integer"), Field::new("b", "integer")],
                output_element: format!("{name}Response"),
                outputs: vec![Field::new(&format!("{name}Result"), "integer")],
            })
            .collect(),
    }
}

/// Run a decoded call: the response element's name and its one child, or the Fault to send.
///
/// Client faults for anything wrong in the message (wrong namespace, unknown operation, a missing or
/// non-integer argument, division by zero, a result outside 64 bits); a Server fault if the server
/// itself failed (a panic while computing is caught and reported, never a dropped connection).
pub fn execute(call: &Call) -> Result<(&'static str, &'static str, String), Fault> {
    guard(|| execute_inner(call))
}

/// Run `f`, turning a panic into a Server fault (SOAP 1.1 §4.4.1: "the message could not be processed
/// for reasons not directly attributable to the contents of the message itself").
pub fn guard<T>(f: impl FnOnce() -> Result<T, Fault>) -> Result<T, Fault> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Fault::server(format!("internal error: {what}")).with_subcode("InternalError"))
        }
    }
}

fn execute_inner(call: &Call) -> Result<(&'static str, &'static str, String), Fault> {
    if call.ns.as_deref() != Some(TNS) {
        return Err(Fault::client(format!(
            "the Body's element {} is not in the service namespace {TNS}",
            match &call.ns {
                Some(ns) => format!("{{{ns}}}{}", call.operation),
                None => format!("<{}> (no namespace)", call.operation),
            }
        ))
        .with_subcode("ResourceNotFound"));
    }
    let Some(index) = OPERATIONS.iter().position(|(n, _)| *n == call.operation) else {
        let known: Vec<&str> = OPERATIONS.iter().map(|(n, _)| *n).collect();
        return Err(Fault::client(format!(
            "no operation `{}`; this service has {}",
            call.operation,
            known.join(", ")
        ))
        .with_subcode("ResourceNotFound"));
    };
    let (name, op) = &OPERATIONS[index];
    if let Some((extra, _)) = call.args.iter().find(|(n, _)| n != "a" && n != "b") {
        return Err(
            Fault::client(format!("{name} has no argument `{extra}`; it takes a and b"))
                .with_subcode("SchemaValidationError"),
        );
    }
    let arg = |n: &str| -> Result<i64, Fault> {
        let text = call.arg(n).ok_or_else(|| {
            Fault::client(format!("argument `{n}` of {name} is missing (or nil)"))
                .with_subcode("InvalidInput")
        })?;
        calc::parse_integer(text).map_err(|out_of_range| {
            let why = if out_of_range {
                "is outside 64 bits"
            } else {
                "is not an integer (xs:integer)"
            };
            Fault::client(format!("argument `{n}` of {name}: {text:?} {why}"))
                .with_subcode("SchemaValidationError")
        })
    };
    let (a, b) = (arg("a")?, arg("b")?);
    let result = calc::apply(*op, a, b).map_err(|e| {
        let sub = match e {
            CalcError::DivisionByZero { .. } => "DivisionByZero",
            CalcError::Overflow { .. } => "Overflow",
        };
        Fault::client(e.to_string()).with_subcode(sub)
    })?;
    let (response, result_name) = ANSWER_NAMES[index];
    Ok((response, result_name, result.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::soap::FaultClass;

    fn call(op: &str, args: &[(&str, Option<&str>)]) -> Call {
        Call {
            ns: Some(TNS.into()),
            operation: op.into(),
            args: args
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    #[test]
    fn answer_names_follow_the_operations() {
        for ((op, _), (response, result)) in OPERATIONS.iter().zip(ANSWER_NAMES) {
            assert_eq!(response, format!("{op}Response"));
            assert_eq!(result, format!("{op}Result"));
        }
    }

    #[test]
    fn operations() {
        let r = execute(&call("add", &[("a", Some("10")), ("b", Some("5"))])).unwrap();
        assert_eq!(r, ("addResponse", "addResult", "15".into()));
        let r = execute(&call(
            "sum_times_difference",
            &[("a", Some("20")), ("b", Some("30"))],
        ))
        .unwrap();
        assert_eq!(r.2, "-500");
    }

    #[test]
    fn faults() {
        for (c, sub) in [
            (call("add", &[("a", Some("10"))]), "InvalidInput"),
            (call("add", &[("a", None), ("b", Some("1"))]), "InvalidInput"),
            (
                call("add", &[("a", Some("x")), ("b", Some("1"))]),
                "SchemaValidationError",
            ),
            (
                call("add", &[("a", Some("1")), ("b", Some("1")), ("c", Some("1"))]),
                "SchemaValidationError",
            ),
            (
                call("divide", &[("a", Some("1")), ("b", Some("0"))]),
                "DivisionByZero",
            ),
            (
                call(
                    "multiply",
                    &[("a", Some("9223372036854775807")), ("b", Some("2"))],
                ),
                "Overflow",
            ),
            (call("power", &[]), "ResourceNotFound"),
        ] {
            let f = execute(&c).unwrap_err();
            assert_eq!(f.class, FaultClass::Client, "{c}");
            assert_eq!(f.subcode.as_deref(), Some(sub), "{c}: {f}");
        }
        let mut wrong_ns = call("add", &[("a", Some("1")), ("b", Some("1"))]);
        wrong_ns.ns = Some("urn:other".into());
        assert_eq!(execute(&wrong_ns).unwrap_err().class, FaultClass::Client);
    }

    #[test]
    fn a_panic_is_a_server_fault() {
        let f = guard::<()>(|| panic!("boom")).unwrap_err();
        assert_eq!(f.class, FaultClass::Server);
        assert!(f.string.contains("boom"));
    }
}
