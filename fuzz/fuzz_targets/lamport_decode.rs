//! Fuzz the Lamport message decoder: no input may panic; whatever decodes must encode (as Python's
//! json.dumps would) and decode to the same message; a reader skipping malformed JSON values always
//! makes progress. Seeds: testdata/fuzz/lamport/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::lamport::{json_value_len, LamportMessage};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while !rest.is_empty() {
        match LamportMessage::decode(rest) {
            Ok((msg, used)) => {
                assert!(used > 0 && used <= rest.len());
                let bytes = msg.to_bytes();
                let (again, n) = LamportMessage::decode(&bytes).expect("a re-encoded message decodes");
                assert_eq!(again, msg);
                assert_eq!(n, bytes.len());
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
});
