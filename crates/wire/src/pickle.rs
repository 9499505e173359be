//! The small subset of Python's pickle format that the course's PUSH/PULL exchanges: one integer.
//!
//! The course's PUSH calls `socket.send_pyobj(workload)`, which is `pickle.dumps(workload, protocol=4)`,
//! and its PULL calls `recv_pyobj()`. For the workloads 1..100 that is five bytes:
//!
//! ```text
//!   80 04      PROTO 4
//!   4b 3e      BININT1 62     (one unsigned byte: 0..255)
//!   2e         STOP
//! ```
//!
//! Larger integers use other opcodes, and from four bytes of body on, protocol 4 wraps the body in a
//! FRAME (`95` + 8-byte little-endian length): 1000 is `80 04 95 04 00 00 00 00 00 00 00 4d e8 03 2e`.
//! What to notice: a pickle is a tiny program for a stack machine; unpickling anything else than this
//! subset from an untrusted peer is how pickle gets people hacked, so sister reads only integers.

use crate::DecodeError;

const PROTO: u8 = 0x80;
const FRAME: u8 = 0x95;
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const BININT: u8 = b'J';
const LONG1: u8 = 0x8a;
const INT: u8 = b'I';
const LONG: u8 = b'L';
const STOP: u8 = b'.';

/// Append `n` pickled exactly as Python's `pickle.dumps(n, protocol=4)` does.
///
/// ```
/// let mut out = Vec::new();
/// wire::pickle::encode_int(62, &mut out);
/// assert_eq!(out, [0x80, 0x04, 0x4b, 0x3e, 0x2e]);
/// ```
pub fn encode_int(n: i64, out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(12);
    if (0..=0xff).contains(&n) {
        body.extend_from_slice(&[BININT1, n as u8]);
    } else if (0..=0xffff).contains(&n) {
        body.push(BININT2);
        body.extend_from_slice(&(n as u16).to_le_bytes());
    } else if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&n) {
        body.push(BININT);
        body.extend_from_slice(&(n as i32).to_le_bytes());
    } else {
        // LONG1: the shortest little-endian two's complement that keeps the sign.
        let bytes = n.to_le_bytes();
        let mut len = 8;
        while len > 1 {
            let top = bytes[len - 1];
            let next_sign = bytes[len - 2] & 0x80;
            if (top == 0 && next_sign == 0) || (top == 0xff && next_sign != 0) {
                len -= 1;
            } else {
                break;
            }
        }
        body.extend_from_slice(&[LONG1, len as u8]);
        body.extend_from_slice(&bytes[..len]);
    }
    body.push(STOP);
    out.extend_from_slice(&[PROTO, 4]);
    // Python's framer writes a FRAME only for a body of at least 4 bytes (`_FRAME_SIZE_MIN`).
    if body.len() >= 4 {
        out.push(FRAME);
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(&body);
}

/// Read a pickle that holds one integer (protocols 0 to 5; BININT1/2, BININT, LONG1 up to 8 bytes,
/// and the text forms `I…\n` and `L…L\n`).
///
/// ```
/// assert_eq!(wire::pickle::decode_int(&[0x80, 0x04, 0x4b, 0x3e, 0x2e]), Ok(62));
/// assert_eq!(wire::pickle::decode_int(b"I42\n."), Ok(42));
/// assert!(wire::pickle::decode_int(b"hello").is_err());
/// ```
pub fn decode_int(buf: &[u8]) -> Result<i64, DecodeError> {
    let bad = |why: &str| DecodeError::invalid(format!("not a pickled integer: {why}"));
    let mut rest = buf;
    let mut value = None;
    loop {
        let Some((&op, tail)) = rest.split_first() else {
            return Err(bad("ends before STOP"));
        };
        rest = tail;
        let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, DecodeError> {
            let v = rest
                .get(..n)
                .ok_or_else(|| bad("an argument runs past the end"))?
                .to_vec();
            *rest = &rest[n..];
            Ok(v)
        };
        match op {
            PROTO => {
                take(&mut rest, 1)?;
            }
            FRAME => {
                take(&mut rest, 8)?;
            }
            BININT1 => value = Some(i64::from(take(&mut rest, 1)?[0])),
            BININT2 => {
                let b = take(&mut rest, 2)?;
                value = Some(i64::from(u16::from_le_bytes([b[0], b[1]])));
            }
            BININT => {
                let b = take(&mut rest, 4)?;
                value = Some(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            }
            LONG1 => {
                let n = usize::from(take(&mut rest, 1)?[0]);
                if n > 8 {
                    return Err(bad("an integer of more than 64 bits"));
                }
                let b = take(&mut rest, n)?;
                let fill = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                let mut le = [fill; 8];
                le[..n].copy_from_slice(&b);
                value = Some(i64::from_le_bytes(le));
            }
            INT | LONG => {
                let end = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .ok_or_else(|| bad("a text integer without its newline"))?;
                let text =
                    std::str::from_utf8(&rest[..end]).map_err(|_| bad("a text integer that is not ASCII"))?;
                let text = text.strip_suffix('L').unwrap_or(text);
                value = Some(match text {
                    "00" => 0, // protocol 0's False
                    "01" => 1, // and True
                    t => t.parse().map_err(|_| bad("a text integer that does not parse"))?,
                });
                rest = &rest[end + 1..];
            }
            STOP => {
                if !rest.is_empty() {
                    return Err(bad("bytes after STOP"));
                }
                return value.ok_or_else(|| bad("STOP before any integer"));
            }
            other => {
                return Err(bad(&format!(
                    "opcode 0x{other:02x} is outside the integer subset"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes from Python 3 `pickle.dumps(n, protocol=4)`.
    const PYTHON: &[(i64, &str)] = &[
        (1, "80044b012e"),
        (62, "80044b3e2e"),
        (255, "80044bff2e"),
        (256, "80049504000000000000004d00012e"),
        (65535, "80049504000000000000004dffff2e"),
        (65536, "80049506000000000000004a000001002e"),
        (-1, "80049506000000000000004affffffff2e"),
        (-300, "80049506000000000000004ad4feffff2e"),
        (2147483648, "80049508000000000000008a0500000080002e"),
        (1099511627776, "80049509000000000000008a060000000000012e"),
        (-2147483649, "80049508000000000000008a05ffffff7fff2e"),
    ];

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn matches_python_both_ways() {
        for &(n, h) in PYTHON {
            let mut out = Vec::new();
            encode_int(n, &mut out);
            assert_eq!(out, hex(h), "encode {n}");
            assert_eq!(decode_int(&hex(h)), Ok(n), "decode {n}");
        }
        for n in [i64::MIN, i64::MAX, 0, -128, 127, 1 << 50] {
            let mut out = Vec::new();
            encode_int(n, &mut out);
            assert_eq!(decode_int(&out), Ok(n));
        }
    }

    #[test]
    fn refuses_everything_else() {
        for b in [
            &b""[..],
            b"\x80\x04K",
            b"\x80\x04K\x01.x",
            b"\x80\x04.",
            b"\x80\x04\x8c\x01a.",
            b"\x8a\x09123456789.",
            b"42",
        ] {
            assert!(decode_int(b).is_err(), "{b:?}");
        }
    }
}
