//! The calculator every request/response-over-HTTP pattern serves (REST, JSON-RPC, SOAP): 64-bit
//! integer arithmetic that never wraps and never panics.
//!
//! Rust's `+` on `i64` panics on overflow in a debug build and wraps in a release build; neither is an
//! answer a server may give. Every operation here is `checked_*`, and the error says exactly what did
//! not fit, so each protocol can turn it into its own kind of error (HTTP 400, a JSON-RPC error object,
//! a SOAP Client fault).

use std::fmt;

/// An operation of the calculator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    /// Integer division, rounding toward zero (7 / 2 = 3, -7 / 2 = -3), as Rust's `/` on integers.
    Div,
    /// The worksheet's modification of the SOAP `add`: `(a + b) * (a - b)`; 20 and 30 give -500.
    SumTimesDifference,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::SumTimesDifference => "(a + b) * (a - b) with",
        }
    }
}

/// Why an operation has no 64-bit answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalcError {
    #[error("Division by zero: {a} / 0 has no answer")]
    DivisionByZero { a: i64 },
    #[error("Overflow: {what} does not fit in a 64-bit integer (from {min} to {max})", min = i64::MIN, max = i64::MAX)]
    Overflow { what: String },
}

/// Compute `a op b` exactly, or say why not.
pub fn apply(op: Op, a: i64, b: i64) -> Result<i64, CalcError> {
    let overflow = |what: String| CalcError::Overflow { what };
    match op {
        Op::Add => a.checked_add(b).ok_or_else(|| overflow(format!("{a} + {b}"))),
        Op::Sub => a.checked_sub(b).ok_or_else(|| overflow(format!("{a} - {b}"))),
        Op::Mul => a.checked_mul(b).ok_or_else(|| overflow(format!("{a} * {b}"))),
        Op::Div if b == 0 => Err(CalcError::DivisionByZero { a }),
        // The one overflow of integer division: i64::MIN / -1 would be i64::MAX + 1.
        Op::Div => a.checked_div(b).ok_or_else(|| overflow(format!("{a} / {b}"))),
        Op::SumTimesDifference => {
            let sum = a.checked_add(b).ok_or_else(|| overflow(format!("{a} + {b}")))?;
            let diff = a.checked_sub(b).ok_or_else(|| overflow(format!("{a} - {b}")))?;
            sum.checked_mul(diff)
                .ok_or_else(|| overflow(format!("({a} + {b}) * ({a} - {b})")))
        }
    }
}

/// Read an integer the way Python's `int()` reads the course's query strings and XML Schema reads an
/// `xs:integer`: optional surrounding whitespace, an optional sign, decimal digits.
///
/// Returns `Err(true)` when the text is an integer but outside 64 bits (so the caller can say
/// "overflow" rather than "not a number"), `Err(false)` when it is not an integer at all.
pub fn parse_integer(text: &str) -> Result<i64, bool> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(false);
    }
    t.parse::<i64>().map_err(|_| true)
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Add => "add",
            Op::Sub => "subtract",
            Op::Mul => "multiply",
            Op::Div => "divide",
            Op::SumTimesDifference => "sum_times_difference",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        assert_eq!(apply(Op::Add, 10, 5), Ok(15));
        assert_eq!(apply(Op::Mul, 10, 5), Ok(50));
        assert_eq!(apply(Op::Sub, 10, 5), Ok(5));
        assert_eq!(apply(Op::Div, 7, 2), Ok(3));
        assert_eq!(apply(Op::Div, -7, 2), Ok(-3));
        assert_eq!(apply(Op::SumTimesDifference, 20, 30), Ok(-500));
    }

    #[test]
    fn never_wraps_never_panics() {
        assert!(matches!(
            apply(Op::Add, i64::MAX, 1),
            Err(CalcError::Overflow { .. })
        ));
        assert!(matches!(
            apply(Op::Sub, i64::MIN, 1),
            Err(CalcError::Overflow { .. })
        ));
        assert!(matches!(
            apply(Op::Mul, i64::MAX, 2),
            Err(CalcError::Overflow { .. })
        ));
        assert!(matches!(
            apply(Op::Div, i64::MIN, -1),
            Err(CalcError::Overflow { .. })
        ));
        assert_eq!(apply(Op::Div, 1, 0), Err(CalcError::DivisionByZero { a: 1 }));
        assert!(matches!(
            apply(Op::SumTimesDifference, i64::MAX, 1),
            Err(CalcError::Overflow { .. })
        ));
    }

    #[test]
    fn parses_like_python_int() {
        assert_eq!(parse_integer("10"), Ok(10));
        assert_eq!(parse_integer(" -5 "), Ok(-5));
        assert_eq!(parse_integer("+7"), Ok(7));
        assert_eq!(parse_integer("9223372036854775808"), Err(true));
        for bad in ["", " ", "x", "1.5", "1e3", "--1", "+", "0x10", "١"] {
            assert_eq!(parse_integer(bad), Err(false), "{bad:?}");
        }
    }
}
