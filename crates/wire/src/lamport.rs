//! The course's Lamport-clock message: one JSON object `{"message", "balance", "timestamp"}`.
//!
//! On the wire (see `testdata`'s `lamport__auliamghfr__lamport.pcap`), each side sends exactly what
//! Python's `json.dumps(d).encode()` produces, in one `sendall`, with **no terminator**:
//!
//! ```text
//! {"message": "Add $100", "balance": 1100, "timestamp": 1}
//! ```
//!
//! and the receiver does one `recv(1024)` and `json.loads` it. Nothing marks where a message ends: the
//! course gets away with it because each side sends one message and then waits for the other. This
//! decoder does better than one-read-one-message: it finds where the first complete JSON object ends, so
//! two messages that TCP delivered in one read are still two messages, and a message split across reads
//! is [`DecodeError::Incomplete`].
//!
//! [`LamportMessage::encode`] writes byte for byte what Python writes (`", "` and `": "` separators,
//! non-ASCII escaped as `\uXXXX`, keys in the course's order), so a capture of sister looks like a
//! capture of the course's programs.

use std::fmt;

use serde::Deserialize;

use crate::DecodeError;

/// The largest message the course's programs can read in one `recv(1024)`.
pub const MAX_MESSAGE: usize = 1024;

/// One message of the course's Lamport exchange.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LamportMessage {
    /// What the sender did to the balance, e.g. `Add $100`.
    pub message: String,
    /// The balance after the sender's operation.
    pub balance: i64,
    /// The sender's Lamport clock at the send event.
    pub timestamp: u64,
}

impl LamportMessage {
    /// Decode the first message in `buf`; returns it and how many bytes it used (whitespace before
    /// the object included).
    ///
    /// - `Incomplete`: the bytes so far are the start of a JSON value (read more);
    /// - `Invalid`: not JSON, or JSON that is not `{"message": str, "balance": int, "timestamp": uint}`.
    pub fn decode(buf: &[u8]) -> Result<(LamportMessage, usize), DecodeError> {
        if buf.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(DecodeError::Incomplete { needed: None });
        }
        let mut stream = serde_json::Deserializer::from_slice(buf).into_iter::<serde_json::Value>();
        let value = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) if e.is_eof() => return Err(DecodeError::Incomplete { needed: None }),
            Some(Err(e)) => return Err(DecodeError::invalid(format!("not JSON: {e}"))),
            None => return Err(DecodeError::Incomplete { needed: None }),
        };
        let used = stream.byte_offset();
        if !value.is_object() {
            return Err(DecodeError::invalid(format!(
                "expected a JSON object {{\"message\", \"balance\", \"timestamp\"}}, got {}",
                kind_of(&value)
            )));
        }
        let msg: LamportMessage = serde_json::from_value(value).map_err(|e| {
            DecodeError::invalid(format!(
                "not a Lamport message ({e}); expected {{\"message\": text, \"balance\": integer, \"timestamp\": integer >= 0}}"
            ))
        })?;
        Ok((msg, used))
    }

    /// Encode as Python's `json.dumps` does (the course's exact bytes), into `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"message\": ");
        push_json_string_ascii(&self.message, out);
        out.extend_from_slice(
            format!(
                ", \"balance\": {}, \"timestamp\": {}}}",
                self.balance, self.timestamp
            )
            .as_bytes(),
        );
    }

    /// The encoded bytes as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64 + self.message.len());
        self.encode(&mut v);
        v
    }
}

impl fmt::Display for LamportMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} balance={} timestamp={}",
            self.message, self.balance, self.timestamp
        )
    }
}

/// How many bytes the first complete JSON value in `buf` takes, whatever it is (`None` if `buf` does
/// not start with one). Lets a reader skip one malformed message without dropping the next.
pub fn json_value_len(buf: &[u8]) -> Option<usize> {
    let mut stream = serde_json::Deserializer::from_slice(buf).into_iter::<serde::de::IgnoredAny>();
    match stream.next() {
        Some(Ok(_)) => Some(stream.byte_offset()),
        _ => None,
    }
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A JSON string as Python's `json.dumps` writes it with its default `ensure_ascii=True`: `"` and `\`
/// escaped, the usual short escapes, every other control or non-ASCII character as `\uXXXX` (UTF-16
/// surrogate pairs above U+FFFF).
fn push_json_string_ascii(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            ' '..='~' => out.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("\\u{u:04x}").as_bytes());
                }
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first payload of the student capture `lamport__auliamghfr__lamport.pcap`, byte for byte.
    const CAPTURED_ADD: &[u8] = br#"{"message": "Add $100", "balance": 1100, "timestamp": 1}"#;
    const CAPTURED_SUBTRACT: &[u8] = br#"{"message": "Subtract $50", "balance": 1050, "timestamp": 3}"#;

    #[test]
    fn decodes_the_captured_messages() {
        let (m, used) = LamportMessage::decode(CAPTURED_ADD).unwrap();
        assert_eq!(used, CAPTURED_ADD.len());
        assert_eq!(m.message, "Add $100");
        assert_eq!(m.balance, 1100);
        assert_eq!(m.timestamp, 1);
        let (m, _) = LamportMessage::decode(CAPTURED_SUBTRACT).unwrap();
        assert_eq!((m.balance, m.timestamp), (1050, 3));
    }

    #[test]
    fn encodes_exactly_what_python_json_dumps_writes() {
        let m = LamportMessage {
            message: "Add $100".into(),
            balance: 1100,
            timestamp: 1,
        };
        assert_eq!(m.to_bytes(), CAPTURED_ADD);
        let m = LamportMessage {
            message: "Subtract $50".into(),
            balance: 1050,
            timestamp: 3,
        };
        assert_eq!(m.to_bytes(), CAPTURED_SUBTRACT);
        // json.dumps({"message": "é\"\n😀", ...}) in Python 3:
        let m = LamportMessage {
            message: "é\"\n😀".into(),
            balance: -5,
            timestamp: 0,
        };
        assert_eq!(
            m.to_bytes(),
            br#"{"message": "\u00e9\"\n\ud83d\ude00", "balance": -5, "timestamp": 0}"#
        );
    }

    #[test]
    fn a_malformed_object_can_be_skipped_alone() {
        let mut buf = br#"{"message": 1}"#.to_vec();
        buf.extend_from_slice(CAPTURED_ADD);
        assert!(matches!(
            LamportMessage::decode(&buf),
            Err(DecodeError::Invalid(_))
        ));
        let n = json_value_len(&buf).unwrap();
        assert_eq!(LamportMessage::decode(&buf[n..]).unwrap().0.timestamp, 1);
        assert_eq!(json_value_len(b"nonsense"), None);
    }

    /// The fuzz target's invariants (fuzz/fuzz_targets/lamport_decode.rs), on every `cargo test`: the
    /// seeds and deterministic mutations of them (flipped, dropped, inserted and truncated bytes).
    #[test]
    fn seeds_and_mutations_never_panic_and_round_trip() {
        let seeds: [&[u8]; 3] = [
            include_bytes!("../../../testdata/fuzz/lamport/add.json"),
            include_bytes!("../../../testdata/fuzz/lamport/two.json"),
            include_bytes!("../../../testdata/fuzz/lamport/bad-then-good.json"),
        ];
        let check = |data: &[u8]| {
            let mut rest = data;
            while !rest.is_empty() {
                match LamportMessage::decode(rest) {
                    Ok((msg, used)) => {
                        assert!(used > 0 && used <= rest.len());
                        let bytes = msg.to_bytes();
                        assert_eq!(LamportMessage::decode(&bytes).unwrap(), (msg, bytes.len()));
                        rest = &rest[used..];
                    }
                    Err(e) if e.is_incomplete() => break,
                    Err(_) => match json_value_len(rest) {
                        Some(n) => {
                            assert!(n > 0 && n <= rest.len());
                            rest = &rest[n..];
                        }
                        None => break,
                    },
                }
            }
        };
        let mut x: u32 = 0x9e37_79b9;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as usize
        };
        for seed in seeds {
            check(seed);
            for _ in 0..3000 {
                let mut m = seed.to_vec();
                let i = next() % m.len();
                match next() % 4 {
                    0 => m[i] ^= 1 << (next() % 8),
                    1 => drop(m.remove(i)),
                    2 => {
                        let alphabet = b"{}[]\"\\:,0-9e\xff";
                        m.insert(i, alphabet[next() % alphabet.len()])
                    }
                    _ => m.truncate(i),
                }
                check(&m);
            }
        }
    }

    #[test]
    fn round_trips() {
        let m = LamportMessage {
            message: "tab\there ünïcode".into(),
            balance: i64::MIN,
            timestamp: u64::MAX,
        };
        let bytes = m.to_bytes();
        assert_eq!(LamportMessage::decode(&bytes).unwrap(), (m, bytes.len()));
    }

    #[test]
    fn two_messages_in_one_read_are_two_messages() {
        let mut both = CAPTURED_ADD.to_vec();
        both.extend_from_slice(CAPTURED_SUBTRACT);
        let (a, used) = LamportMessage::decode(&both).unwrap();
        assert_eq!(a.timestamp, 1);
        let (b, used2) = LamportMessage::decode(&both[used..]).unwrap();
        assert_eq!(b.timestamp, 3);
        assert_eq!(used + used2, both.len());
    }

    #[test]
    fn truncated_input_is_incomplete_at_every_length() {
        for n in 0..CAPTURED_ADD.len() {
            let r = LamportMessage::decode(&CAPTURED_ADD[..n]);
            assert!(
                matches!(r, Err(DecodeError::Incomplete { .. })),
                "prefix of {n} bytes: {r:?}"
            );
        }
    }

    #[test]
    fn broken_input_is_invalid_with_a_reason() {
        for (bad, why) in [
            (&b"hello"[..], "not JSON"),
            (b"[1, 2]", "an array"),
            (br#"{"message": "x", "balance": 1}"#, "timestamp"),
            (
                br#"{"message": "x", "balance": 1, "timestamp": -1}"#,
                "not a Lamport message",
            ),
            (
                br#"{"message": "x", "balance": "many", "timestamp": 1}"#,
                "not a Lamport message",
            ),
            (
                br#"{"message": "x", "balance": 1, "timestamp": 1, "extra": 0}"#,
                "extra",
            ),
            (b"\xff\xfe", "not JSON"),
        ] {
            match LamportMessage::decode(bad) {
                Err(DecodeError::Invalid(reason)) => assert!(reason.contains(why), "{reason}"),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
    }
}
