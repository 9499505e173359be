//! The data representations every MQTT packet is built from (MQTT 3.1.1 §1.5, MQTT 5.0 §1.5):
//! one-byte and two-byte integers (big-endian), four-byte integers (5.0 only), the Variable Byte Integer
//! (the "remaining length" encoding), UTF-8 strings and binary data, each prefixed with a two-byte length.
//!
//! [`Reader`] walks the body of ONE packet whose length is already known: running past its end is a
//! malformed packet (the length lied), never "incomplete". It allocates only what the bytes in hand hold,
//! so a length field cannot make it allocate more than the frame it came in.

use bytes::{BufMut, Bytes};

use super::Error;

/// The largest value a Variable Byte Integer can carry: four bytes of 7 bits (MQTT 3.1.1 §2.2.3,
/// MQTT 5.0 §1.5.5). So no MQTT packet is longer than 256 MiB plus its 5-byte fixed header.
pub const MAX_VARINT: u32 = 268_435_455;

/// The longest UTF-8 string or binary field: its length prefix is a u16 (MQTT 3.1.1 §1.5.3).
pub const MAX_STRING: usize = 65_535;

/// The outcome of reading a Variable Byte Integer from the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarInt {
    /// The value and how many bytes (1 to 4) it used.
    Value(u32, usize),
    /// The buffer ends before the last byte (the one without the continuation bit 0x80).
    Incomplete,
}

/// Read a Variable Byte Integer: 7 bits per byte, least significant group first, bit 7 set on every byte
/// but the last. A fifth byte is malformed (MQTT 5.0 §1.5.5: "maximum of four bytes").
///
/// Non-minimal encodings (`0x80 0x00` for 0) are accepted, as Mosquitto and paho do; the encoder always
/// writes the minimal form.
pub fn read_varint(buf: &[u8]) -> Result<VarInt, Error> {
    let mut value: u32 = 0;
    for i in 0..4 {
        let Some(&byte) = buf.get(i) else {
            return Ok(VarInt::Incomplete);
        };
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(VarInt::Value(value, i + 1));
        }
    }
    Err(Error::malformed(
        "a variable byte integer is longer than 4 bytes (MQTT 3.1.1 §2.2.3, 5.0 §1.5.5)",
    ))
}

/// How many bytes `value` takes as a Variable Byte Integer (1 to 4; values above [`MAX_VARINT`] do not fit
/// and are refused by [`write_varint`]).
pub fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Write a Variable Byte Integer. The caller has checked `value <= MAX_VARINT`.
pub fn write_varint(out: &mut impl BufMut, value: usize) {
    let mut v = value;
    loop {
        let mut byte = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if v == 0 {
            break;
        }
    }
}

/// Write a UTF-8 string with its two-byte length. The caller has checked the length (see `check_str`).
pub fn write_str(out: &mut impl BufMut, s: &str) {
    write_binary(out, s.as_bytes());
}

/// Write binary data with its two-byte length. The caller has checked `data.len() <= 65535`.
pub fn write_binary(out: &mut impl BufMut, data: &[u8]) {
    out.put_u16(data.len() as u16);
    out.put_slice(data);
}

/// The MQTT rules for a UTF-8 string, applied to an already valid Rust `str` (MQTT 3.1.1 §1.5.3,
/// 5.0 §1.5.4): at most 65,535 bytes, and no U+0000. Rust strings are always well-formed UTF-8 and never
/// hold the surrogates U+D800..U+DFFF, so those two rules hold by construction.
pub fn check_str(what: &str, s: &str) -> Result<(), Error> {
    if s.len() > MAX_STRING {
        return Err(Error::malformed(format!(
            "{what} is {} bytes long, more than the 65535 a UTF-8 string may hold (MQTT 3.1.1 §1.5.3)",
            s.len()
        )));
    }
    if s.contains('\0') {
        return Err(Error::malformed(format!(
            "{what} contains U+0000, which MQTT strings must not (MQTT 3.1.1 §1.5.3)"
        )));
    }
    Ok(())
}

/// A cursor over the body of one packet (everything after the fixed header).
///
/// When the input is a [`Bytes`] (see `mqtt::decode_bytes`), binary fields and payloads are slices of
/// it (no copy, the buffer is shared by reference count); from a plain `&[u8]` they are copied.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The `Bytes` that `buf` is part of, and where `buf` starts in it.
    shared: Option<(&'a Bytes, usize)>,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            shared: None,
        }
    }

    /// A reader over `shared[start..end]` whose binary fields are slices of `shared`.
    /// The caller has checked the range.
    pub fn shared(shared: &'a Bytes, start: usize, end: usize) -> Self {
        Reader {
            buf: &shared[start..end],
            pos: 0,
            shared: Some((shared, start)),
        }
    }

    /// A reader over the next `n` bytes (a property block), sharing as this one does.
    pub fn sub(&mut self, n: usize, what: &str) -> Result<Reader<'a>, Error> {
        let start = self.pos;
        let buf = self.take(n, what)?;
        Ok(Reader {
            buf,
            pos: 0,
            shared: self.shared.map(|(b, base)| (b, base + start)),
        })
    }

    /// `bytes`, which were just taken from this reader, as a `Bytes`: a slice of the shared input, or
    /// a copy.
    fn keep(&self, bytes: &'a [u8]) -> Bytes {
        match self.shared {
            Some((shared, _)) => shared.slice_ref(bytes),
            None => Bytes::copy_from_slice(bytes),
        }
    }

    /// Everything left in the packet, as a `Bytes` (a PUBLISH payload).
    pub fn rest_bytes(&mut self) -> Bytes {
        let rest = self.rest();
        self.keep(rest)
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Take the next `n` bytes, or fail: the packet's remaining length promised more than it holds.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let bytes = &self.buf[self.pos..end];
                self.pos = end;
                Ok(bytes)
            }
            None => Err(Error::malformed(format!(
                "the packet ends inside its {what} ({n} bytes needed, {} left)",
                self.remaining()
            ))),
        }
    }

    /// Everything left in the packet.
    pub fn rest(&mut self) -> &'a [u8] {
        let bytes = &self.buf[self.pos..];
        self.pos = self.buf.len();
        bytes
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, Error> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A Variable Byte Integer inside the packet (5.0 property lengths, subscription identifiers).
    pub fn varint(&mut self, what: &str) -> Result<u32, Error> {
        match read_varint(&self.buf[self.pos..])? {
            VarInt::Value(v, used) => {
                self.pos += used;
                Ok(v)
            }
            VarInt::Incomplete => Err(Error::malformed(format!(
                "the packet ends inside the variable byte integer of its {what}"
            ))),
        }
    }

    /// Binary data: a two-byte length, then that many bytes (MQTT 5.0 §1.5.6).
    pub fn binary(&mut self, what: &str) -> Result<&'a [u8], Error> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    /// Binary data as a [`Bytes`] the caller can keep (shared with the input when it is a `Bytes`).
    pub fn bytes(&mut self, what: &str) -> Result<Bytes, Error> {
        let b = self.binary(what)?;
        Ok(self.keep(b))
    }

    /// A UTF-8 string (MQTT 3.1.1 §1.5.3, 5.0 §1.5.4): two-byte length, then well-formed UTF-8 without
    /// U+0000. Breaking either rule makes the packet malformed and the receiver closes the connection.
    pub fn str(&mut self, what: &str) -> Result<&'a str, Error> {
        let raw = self.binary(what)?;
        let s = std::str::from_utf8(raw).map_err(|e| {
            Error::malformed(format!(
                "{what} is not well-formed UTF-8 ({e}) (MQTT 3.1.1 §1.5.3, 5.0 §1.5.4)"
            ))
        })?;
        if s.contains('\0') {
            return Err(Error::malformed(format!(
                "{what} contains U+0000, which MQTT strings must not (MQTT 3.1.1 §1.5.3)"
            )));
        }
        Ok(s)
    }

    /// A UTF-8 string copied into a `String`.
    pub fn string(&mut self, what: &str) -> Result<String, Error> {
        self.str(what).map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_examples_from_the_spec() {
        // MQTT 3.1.1 §2.2.3 table 2.4: the boundaries of 1, 2, 3 and 4 bytes.
        let cases: [(&[u8], u32); 8] = [
            (&[0x00], 0),
            (&[0x7f], 127),
            (&[0x80, 0x01], 128),
            (&[0xff, 0x7f], 16_383),
            (&[0x80, 0x80, 0x01], 16_384),
            (&[0xff, 0xff, 0x7f], 2_097_151),
            (&[0x80, 0x80, 0x80, 0x01], 2_097_152),
            (&[0xff, 0xff, 0xff, 0x7f], 268_435_455),
        ];
        for (bytes, value) in cases {
            assert_eq!(read_varint(bytes), Ok(VarInt::Value(value, bytes.len())));
            let mut out = Vec::new();
            write_varint(&mut out, value as usize);
            assert_eq!(out, bytes);
            assert_eq!(varint_len(value as usize), bytes.len());
        }
    }

    #[test]
    fn varint_truncated_and_too_long() {
        assert_eq!(read_varint(&[]), Ok(VarInt::Incomplete));
        assert_eq!(read_varint(&[0x80, 0x80]), Ok(VarInt::Incomplete));
        assert!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
    }

    #[test]
    fn strings_reject_nul_and_bad_utf8() {
        assert_eq!(Reader::new(b"\x00\x02hi").str("s").unwrap(), "hi");
        assert!(Reader::new(b"\x00\x02h\x00").str("s").is_err());
        assert!(Reader::new(b"\x00\x02\xc3\x28").str("s").is_err());
        // a surrogate half encoded as UTF-8 (ED A0 80) is not well-formed
        assert!(Reader::new(b"\x00\x03\xed\xa0\x80").str("s").is_err());
        assert!(Reader::new(b"\x00\x05hi").str("s").is_err());
    }
}
