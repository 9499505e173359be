//! The JSON-RPC calculator's methods: `add`, `subtract`, `multiply`, `divide`.
//!
//! Parameters by position (`[10, 2]`, as the course's client sends) or by name (`{"a": 10, "b": 2}`;
//! `subtract` also takes the spec's own `{"minuend": 42, "subtrahend": 23}`). Integers are computed
//! exactly in 64 bits; if either number has a fraction the arithmetic is floating point (`divide` on
//! integers is an integer division rounding toward zero, `divide` with a float is a float division).
//!
//! Errors, as the spec wants them: wrong parameters are -32602 with `data` saying which; division by
//! zero and overflow are application errors with their own codes
//! ([`codes::DIVISION_BY_ZERO`], [`codes::OVERFLOW`]).

use serde_json::{Number, Value};
use wire::jsonrpc::{codes, ErrorObject, Params, Request};

use crate::calc::{self, CalcError, Op};

/// The methods this server has, for error messages and the lab.
pub const METHODS: [&str; 4] = ["add", "subtract", "multiply", "divide"];

/// Run one request (the dispatcher given to [`wire::jsonrpc::answer`]).
pub fn call(req: &Request) -> Result<Value, ErrorObject> {
    let op = match req.method.as_str() {
        "add" => Op::Add,
        "subtract" => Op::Sub,
        "multiply" => Op::Mul,
        "divide" => Op::Div,
        other => {
            return Err(ErrorObject::new(
                codes::METHOD_NOT_FOUND,
                format!("no method `{other}`; this server has {}", METHODS.join(", ")),
            ))
        }
    };
    let (a, b) = operands(op, req.params.as_ref())?;
    compute(op, a, b)
}

/// A JSON number as the calculator sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

fn operands(op: Op, params: Option<&Params>) -> Result<(Num, Num), ErrorObject> {
    let invalid = |why: String| ErrorObject::new(codes::INVALID_PARAMS, why);
    let (a, b) = match params {
        Some(Params::ByPosition(p)) if p.len() == 2 => (&p[0], &p[1]),
        Some(Params::ByPosition(p)) => {
            return Err(invalid(format!(
                "{op} takes 2 parameters [a, b], got {}",
                p.len()
            )))
        }
        Some(Params::ByName(m)) => {
            let named = |names: &[&str]| names.iter().find_map(|n| m.get(*n));
            let (a_names, b_names): (&[&str], &[&str]) = if op == Op::Sub {
                (&["a", "minuend"], &["b", "subtrahend"])
            } else {
                (&["a"], &["b"])
            };
            let unknown: Vec<&String> = m
                .keys()
                .filter(|k| !a_names.contains(&k.as_str()) && !b_names.contains(&k.as_str()))
                .collect();
            if !unknown.is_empty() {
                return Err(invalid(format!(
                    "{op} has no parameter named {unknown:?}; it takes {a_names:?} and {b_names:?}"
                )));
            }
            match (named(a_names), named(b_names)) {
                (Some(a), Some(b)) => (a, b),
                _ => {
                    return Err(invalid(format!(
                        "{op} needs both {} and {} by name",
                        a_names[0], b_names[0]
                    )))
                }
            }
        }
        None => return Err(invalid(format!("{op} needs params [a, b]"))),
    };
    Ok((number(a, "a")?, number(b, "b")?))
}

fn number(v: &Value, name: &str) -> Result<Num, ErrorObject> {
    let invalid = |why: String| ErrorObject::new(codes::INVALID_PARAMS, why);
    let Value::Number(n) = v else {
        return Err(invalid(format!("{name} must be a number, not {v}")));
    };
    if let Some(i) = n.as_i64() {
        Ok(Num::Int(i))
    } else if n.is_u64() {
        Err(invalid(format!(
            "{name}={n} is larger than a 64-bit signed integer"
        )))
    } else {
        n.as_f64()
            .map(Num::Float)
            .ok_or_else(|| invalid(format!("{name}={n} is not a usable number")))
    }
}

fn compute(op: Op, a: Num, b: Num) -> Result<Value, ErrorObject> {
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => calc::apply(op, a, b).map(Value::from).map_err(application_error),
        (a, b) => {
            let (a, b) = (as_f64(a), as_f64(b));
            let r = match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div if b == 0.0 => {
                    return Err(application_error(CalcError::DivisionByZero { a: a as i64 }))
                }
                Op::Div => a / b,
                Op::SumTimesDifference => (a + b) * (a - b),
            };
            // JSON has no infinity or NaN.
            Number::from_f64(r).map(Value::Number).ok_or_else(|| {
                application_error(CalcError::Overflow {
                    what: format!("{a} {} {b}", op.symbol()),
                })
            })
        }
    }
}

fn as_f64(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

fn application_error(e: CalcError) -> ErrorObject {
    let (code, message) = match e {
        CalcError::DivisionByZero { .. } => (codes::DIVISION_BY_ZERO, "Division by zero"),
        CalcError::Overflow { .. } => (codes::OVERFLOW, "Overflow"),
    };
    // The message names the error; `data` says what exactly ("1 / 0 has no answer").
    let text = e.to_string();
    let detail = text
        .strip_prefix(message)
        .map(|d| d.trim_start_matches(": ").to_string())
        .unwrap_or(text);
    ErrorObject::with_message(code, message, Some(Value::String(detail)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(method: &str, params: Value) -> Result<Value, ErrorObject> {
        let params = match params {
            Value::Array(a) => Some(Params::ByPosition(a)),
            Value::Object(m) => Some(Params::ByName(m)),
            _ => None,
        };
        call(&Request {
            method: method.into(),
            params,
            id: Some(1.into()),
        })
    }

    #[test]
    fn methods() {
        assert_eq!(run("add", json!([10, 2])), Ok(json!(12)));
        assert_eq!(run("multiply", json!([10, 5])), Ok(json!(50)));
        assert_eq!(
            run("subtract", json!({"minuend": 42, "subtrahend": 23})),
            Ok(json!(19))
        );
        assert_eq!(run("subtract", json!({"a": 42, "b": 23})), Ok(json!(19)));
        assert_eq!(run("divide", json!([7, 2])), Ok(json!(3)));
        assert_eq!(run("divide", json!([7.0, 2])), Ok(json!(3.5)));
        assert_eq!(run("add", json!([0.5, 0.25])), Ok(json!(0.75)));
    }

    #[test]
    fn errors() {
        assert_eq!(
            run("divide", json!([1, 0])).unwrap_err().code,
            codes::DIVISION_BY_ZERO
        );
        assert_eq!(
            run("divide", json!([1.5, 0.0])).unwrap_err().code,
            codes::DIVISION_BY_ZERO
        );
        assert_eq!(
            run("add", json!([i64::MAX, 1])).unwrap_err().code,
            codes::OVERFLOW
        );
        assert_eq!(
            run("multiply", json!([1e308, 10])).unwrap_err().code,
            codes::OVERFLOW
        );
        assert_eq!(
            run("power", json!([1, 2])).unwrap_err().code,
            codes::METHOD_NOT_FOUND
        );
        for bad in [
            json!([1]),
            json!([1, 2, 3]),
            json!(["1", 2]),
            json!({"a": 1}),
            json!({"a": 1, "b": 2, "c": 3}),
            json!([u64::MAX, 1]),
            Value::Null,
        ] {
            let e = run("add", bad.clone()).unwrap_err();
            assert_eq!(e.code, codes::INVALID_PARAMS, "{bad}");
            assert!(e.data.is_some(), "{bad}: -32602 says what was wrong");
        }
    }
}
