//! The Ice encoding 1.1 (and 1.0, which agrees on everything read here): how values become bytes.
//!
//! Ice Manual, "The Ice Protocol" → "Data Encoding". Everything is **little-endian**, nothing is
//! aligned, and there are no type tags: a reader must know the Slice types to read the bytes, which is
//! why a capture shows an operation's name but not, without the Slice file, what its arguments mean.
//!
//! ```text
//!   bool    1 byte, 0 or 1              short   2 B LE         float   4 B IEEE 754 LE
//!   byte    1 byte                      int     4 B LE         double  8 B IEEE 754 LE
//!                                       long    8 B LE
//!
//!   size    n < 255:   [n]                         one byte
//!           n >= 255:  [ff][n as i32 LE]           five bytes
//!
//!   string  [size][UTF-8 bytes, no terminator]     "Hi" = 02 48 69
//!   seq<T>  [size = element count][T][T]...        seq<string> ["a","b"] = 02 01 61 01 62
//!   dict    [size = pair count][K][V][K][V]...
//!
//!   encapsulation (parameters, results, user exceptions):
//!           [i32 size, counting these 6 bytes][major][minor][data ...]
//!           an empty 1.1 encapsulation is 06 00 00 00 01 01
//! ```
//!
//! An encapsulation carries its own encoding version, so an Ice 3.7 peer (encoding 1.1) and an Ice 3.3
//! peer (1.0) can tell each other's parameters apart; the message header's own encoding byte stays 1.0.
//!
//! [`Reader`] reads a complete message body, so running out of bytes is never "read more" here: the
//! message header already said how long the body is. It is [`DecodeError::Invalid`] ("the body ends
//! inside a string"), and every size is checked against the bytes left before anything is allocated.

use std::fmt;

use crate::DecodeError;

/// A protocol or encoding version, `major.minor` (both one byte on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const fn new(major: u8, minor: u8) -> Self {
        Version { major, minor }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Encoding 1.0: what the message header always says, and what Ice 3.4 and earlier use inside
/// encapsulations.
pub const ENCODING_1_0: Version = Version::new(1, 0);
/// Encoding 1.1: what Ice 3.5 and later (the course's 3.7) put in parameter encapsulations.
pub const ENCODING_1_1: Version = Version::new(1, 1);

/// A cursor over the bytes of one message body.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// How many bytes have been read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// `n` raw bytes; `what` names them in the error ("the body ends inside <what>").
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::invalid(format!(
                "the message ends inside {what} ({n} bytes needed, {} left)",
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let b = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn byte(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A bool is one byte; Ice writes 0 or 1 and reads any non-zero byte as true.
    pub fn bool(&mut self, what: &str) -> Result<bool, DecodeError> {
        Ok(self.byte(what)? != 0)
    }

    pub fn short(&mut self, what: &str) -> Result<i16, DecodeError> {
        Ok(i16::from_le_bytes(self.array(what)?))
    }

    pub fn int(&mut self, what: &str) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    pub fn long(&mut self, what: &str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    pub fn float(&mut self, what: &str) -> Result<f32, DecodeError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    pub fn double(&mut self, what: &str) -> Result<f64, DecodeError> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }

    /// A size: one byte below 255, else `ff` and an i32 (Data Encoding → "Sizes"). A negative i32 is
    /// invalid, and so is a size larger than the bytes left when each counted item takes at least one
    /// byte (`min_item` bytes each): that check is what stops a forged size from reserving memory.
    pub fn size(&mut self, what: &str, min_item: usize) -> Result<usize, DecodeError> {
        let first = self.byte(what)?;
        let n = if first < 255 {
            first as usize
        } else {
            let n = self.int(what)?;
            usize::try_from(n).map_err(|_| DecodeError::invalid(format!("{what}: negative size {n}")))?
        };
        if n.saturating_mul(min_item) > self.remaining() {
            return Err(DecodeError::invalid(format!(
                "{what}: size {n} is more than the {} bytes left",
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// A string: a size and that many bytes of UTF-8 (Ice refuses other bytes, and so does this).
    pub fn string(&mut self, what: &str) -> Result<&'a str, DecodeError> {
        let n = self.size(what, 1)?;
        let b = self.bytes(n, what)?;
        std::str::from_utf8(b).map_err(|_| DecodeError::invalid(format!("{what} is not UTF-8")))
    }

    /// `sequence<string>`.
    pub fn string_seq(&mut self, what: &str) -> Result<Vec<String>, DecodeError> {
        let n = self.size(what, 1)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.string(what)?.to_owned());
        }
        Ok(out)
    }

    /// `dictionary<string, string>` (a request's context), pairs in wire order.
    pub fn string_dict(&mut self, what: &str) -> Result<Vec<(String, String)>, DecodeError> {
        let n = self.size(what, 2)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.string(what)?.to_owned();
            let v = self.string(what)?.to_owned();
            out.push((k, v));
        }
        Ok(out)
    }

    /// An encapsulation: i32 size (counting its own 6 header bytes), encoding version, data.
    pub fn encapsulation(&mut self, what: &str) -> Result<Encapsulation, DecodeError> {
        let size = self.int(what)?;
        if size < 6 {
            return Err(DecodeError::invalid(format!(
                "{what}: encapsulation size {size} is less than its own 6-byte header"
            )));
        }
        let major = self.byte(what)?;
        let minor = self.byte(what)?;
        let data = self.bytes(size as usize - 6, what)?;
        Ok(Encapsulation {
            encoding: Version::new(major, minor),
            data: data.to_vec(),
        })
    }
}

/// An encapsulation: bytes in a known encoding whose meaning only the Slice types tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encapsulation {
    pub encoding: Version,
    pub data: Vec<u8>,
}

impl Encapsulation {
    /// An empty encapsulation in encoding 1.1 (a `void` operation's result, no parameters).
    pub fn empty() -> Self {
        Encapsulation {
            encoding: ENCODING_1_1,
            data: Vec::new(),
        }
    }

    /// An encapsulation in `encoding` whose data `write` fills.
    pub fn build(encoding: Version, write: impl FnOnce(&mut Writer<'_>)) -> Self {
        let mut data = Vec::new();
        write(&mut Writer::new(&mut data));
        Encapsulation { encoding, data }
    }

    /// Bytes on the wire: 6 + data.
    pub fn wire_len(&self) -> usize {
        6 + self.data.len()
    }

    /// The data read as nothing but strings, when it is exactly that (`printString("Hello")` carries
    /// `05 48 65 6c 6c 6f`). This is a guess the analyzer makes without the Slice file: bytes that
    /// happen to read as strings are shown as strings. Only printable text is accepted, which keeps
    /// the guess from turning integers into control characters. `None` when the data is anything else.
    pub fn as_strings(&self) -> Option<Vec<String>> {
        let mut r = Reader::new(&self.data);
        let mut out = Vec::new();
        while !r.is_empty() {
            let s = r.string("a string").ok()?;
            if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return None;
            }
            out.push(s.to_owned());
            if out.len() > 16 {
                return None;
            }
        }
        if out.is_empty() {
            None
        } else {
            Some(out)
        }
    }

    /// The Slice type id of the user exception this encapsulation holds (`::Bank::Insufficient`),
    /// read from its first slice. Encoding 1.1 (Data Encoding → "Exceptions"): a flags byte, then the
    /// type id, which an exception slice always writes as a string: ZeroC 3.7 sets none of the type-id
    /// bits for it (flags `20`, "last slice"), so the two low bits are `00` or `01`, never an index
    /// (`10`) or a compact id (`11`), which only class slices use. Encoding 1.0: a bool (uses classes)
    /// and the type id string.
    pub fn exception_id(&self) -> Option<String> {
        let mut r = Reader::new(&self.data);
        if self.encoding == ENCODING_1_0 {
            r.bool("uses classes").ok()?;
        } else {
            let flags = r.byte("slice flags").ok()?;
            if flags & 0x03 > 0x01 {
                return None;
            }
        }
        Some(r.string("exception type id").ok()?.to_owned())
    }
}

/// Writes values in the encoding into a buffer. Writing cannot fail; a size above `i32::MAX` cannot
/// be sent in Ice and is the caller's bug, so the size writer saturates rather than wraps.
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Writer { out }
    }

    pub fn byte(&mut self, v: u8) {
        self.out.push(v);
    }

    pub fn bool(&mut self, v: bool) {
        self.out.push(v as u8);
    }

    pub fn short(&mut self, v: i16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn int(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn long(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn float(&mut self, v: f32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn double(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn size(&mut self, n: usize) {
        if n < 255 {
            self.out.push(n as u8);
        } else {
            self.out.push(255);
            self.int(i32::try_from(n).unwrap_or(i32::MAX));
        }
    }

    pub fn string(&mut self, s: &str) {
        self.size(s.len());
        self.out.extend_from_slice(s.as_bytes());
    }

    pub fn string_seq<S: AsRef<str>>(&mut self, items: &[S]) {
        self.size(items.len());
        for s in items {
            self.string(s.as_ref());
        }
    }

    pub fn string_dict(&mut self, pairs: &[(String, String)]) {
        self.size(pairs.len());
        for (k, v) in pairs {
            self.string(k);
            self.string(v);
        }
    }

    pub fn encapsulation(&mut self, e: &Encapsulation) {
        self.int(i32::try_from(e.wire_len()).unwrap_or(i32::MAX));
        self.byte(e.encoding.major);
        self.byte(e.encoding.minor);
        self.out.extend_from_slice(&e.data);
    }

    pub fn raw(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_one_byte_below_255_and_five_from_255() {
        for (n, wire) in [
            (0usize, vec![0u8]),
            (254, vec![254]),
            (255, vec![255, 255, 0, 0, 0]),
            (70_000, vec![255, 0x70, 0x11, 1, 0]),
        ] {
            let mut out = Vec::new();
            Writer::new(&mut out).size(n);
            assert_eq!(out, wire, "size {n}");
            let mut padded = out.clone();
            padded.resize(padded.len() + n, 0);
            assert_eq!(Reader::new(&padded).size("s", 1).unwrap(), n);
        }
    }

    #[test]
    fn a_size_larger_than_the_bytes_left_is_refused_before_allocating() {
        let bytes = [255, 0xff, 0xff, 0xff, 0x7f];
        let err = Reader::new(&bytes).string_seq("facet").unwrap_err();
        assert!(err.to_string().contains("more than the 0 bytes left"), "{err}");
        let negative = [255, 0, 0, 0, 0x80];
        assert!(Reader::new(&negative)
            .size("s", 1)
            .unwrap_err()
            .to_string()
            .contains("negative"));
    }

    #[test]
    fn primitives_round_trip_little_endian() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.bool(true);
        w.byte(7);
        w.short(-2);
        w.int(0x0102_0304);
        w.long(-5);
        w.float(1.5);
        w.double(-0.25);
        w.string("Hi");
        w.string_seq(&["::Demo::Printer", "::Ice::Object"]);
        w.string_dict(&[("k".to_owned(), "v".to_owned())]);
        assert_eq!(&out[2..8], &[0xfe, 0xff, 4, 3, 2, 1]);
        let mut r = Reader::new(&out);
        assert!(r.bool("b").unwrap());
        assert_eq!(r.byte("y").unwrap(), 7);
        assert_eq!(r.short("s").unwrap(), -2);
        assert_eq!(r.int("i").unwrap(), 0x0102_0304);
        assert_eq!(r.long("l").unwrap(), -5);
        assert_eq!(r.float("f").unwrap(), 1.5);
        assert_eq!(r.double("d").unwrap(), -0.25);
        assert_eq!(r.string("str").unwrap(), "Hi");
        assert_eq!(r.string_seq("seq").unwrap(), ["::Demo::Printer", "::Ice::Object"]);
        assert_eq!(r.string_dict("ctx").unwrap(), [("k".to_owned(), "v".to_owned())]);
        assert!(r.is_empty());
        assert!(r
            .byte("past the end")
            .unwrap_err()
            .to_string()
            .contains("ends inside past the end"));
    }

    #[test]
    fn encapsulations_count_their_own_header() {
        let e = Encapsulation::build(ENCODING_1_1, |w| w.string("Hello"));
        let mut out = Vec::new();
        Writer::new(&mut out).encapsulation(&e);
        assert_eq!(out, [12, 0, 0, 0, 1, 1, 5, b'H', b'e', b'l', b'l', b'o']);
        assert_eq!(Reader::new(&out).encapsulation("params").unwrap(), e);
        assert_eq!(e.as_strings().unwrap(), ["Hello"]);
        let short = [5, 0, 0, 0, 1, 1];
        assert!(Reader::new(&short).encapsulation("params").is_err());
        let overlong = [20, 0, 0, 0, 1, 1, 0];
        assert!(Reader::new(&overlong).encapsulation("params").is_err());
    }

    #[test]
    fn the_strings_guess_refuses_what_is_not_only_printable_strings() {
        let int_arg = Encapsulation::build(ENCODING_1_1, |w| w.int(1));
        assert_eq!(
            int_arg.as_strings(),
            None,
            "01 00 00 00 is one char U+0000 then two sizes: not text"
        );
        assert_eq!(Encapsulation::empty().as_strings(), None);
        let two = Encapsulation::build(ENCODING_1_1, |w| {
            w.string("a");
            w.string("b c")
        });
        assert_eq!(two.as_strings().unwrap(), ["a", "b c"]);
    }

    #[test]
    fn a_user_exception_names_its_type_in_both_encodings() {
        let e11 = Encapsulation::build(ENCODING_1_1, |w| {
            w.byte(0x21); // has type id string | is last slice
            w.string("::Bank::Insufficient");
            w.int(5);
        });
        assert_eq!(e11.exception_id().unwrap(), "::Bank::Insufficient");
        // What ZeroC 3.7 sends (testdata/ice/bank.pcap, frame 22): flags 20, last slice only, and the
        // type id string all the same.
        let zeroc = Encapsulation::build(ENCODING_1_1, |w| {
            w.byte(0x20);
            w.string("::Bank::Insufficient");
            w.int(875);
        });
        assert_eq!(zeroc.exception_id().unwrap(), "::Bank::Insufficient");
        let index = Encapsulation::build(ENCODING_1_1, |w| {
            w.byte(0x22); // a type-id index: class slices only
            w.size(1);
        });
        assert_eq!(index.exception_id(), None);
        let e10 = Encapsulation::build(ENCODING_1_0, |w| {
            w.bool(false);
            w.string("::Bank::Insufficient");
        });
        assert_eq!(e10.exception_id().unwrap(), "::Bank::Insufficient");
    }
}
