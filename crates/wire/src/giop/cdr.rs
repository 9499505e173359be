//! CDR, the Common Data Representation: how IDL values become GIOP bytes.
//!
//! CORBA 3.0, §15.3 "CDR Transfer Syntax". Three rules make it unlike Ice's encoding:
//!
//! 1. **Both byte orders.** The sender writes in its own order and says which in the message header
//!    (or, in an encapsulation, in its first octet); the *receiver* swaps if it must ("receiver makes
//!    right", §15.3.1.1). A big-endian SPARC and a little-endian PC each write natively.
//! 2. **Alignment.** A primitive of size n starts at an offset that is a multiple of n, counted from
//!    the start of the GIOP message (its header included) or of the encapsulation; the gap is
//!    padding (§15.3.1.1). So the same `unsigned long` costs 4 to 7 bytes depending on where it falls.
//! 3. **Encapsulations** (§15.3.3): a `sequence<octet>` whose first octet is its byte order, with
//!    alignment restarting at that octet. IORs' profiles and service contexts travel this way, so a
//!    reader can skip a profile it does not understand.
//!
//! ```text
//!   octet, boolean, char   1 byte                    string  ulong length (with the NUL), bytes, 00
//!   short, ushort          2 bytes, 2-aligned        "Hello" = 06 00 00 00 48 65 6c 6c 6f 00  (LE)
//!   long, ulong, enum      4 bytes, 4-aligned        sequence<T>: ulong count, then count Ts
//!   longlong, double       8 bytes, 8-aligned        struct: its members in order, each aligned
//! ```
//!
//! [`Reader`] reads a complete message or encapsulation, so running out of bytes is
//! [`DecodeError::Invalid`], never "read more"; every count is checked against the bytes left
//! before anything is allocated.

use crate::DecodeError;

/// A cursor over CDR bytes.
///
/// `origin` is the offset of `buf[0]` from the place alignment counts from: 0 for a whole message
/// or an encapsulation; something else for a piece of a message (a request's arguments kept apart
/// from its header).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    origin: usize,
    little_endian: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], little_endian: bool) -> Self {
        Reader {
            buf,
            pos: 0,
            origin: 0,
            little_endian,
        }
    }

    /// A reader over bytes that sat `origin` bytes after the alignment origin.
    pub fn with_origin(buf: &'a [u8], origin: usize, little_endian: bool) -> Self {
        Reader {
            buf,
            pos: 0,
            origin,
            little_endian,
        }
    }

    /// A reader over an encapsulation's bytes: the first octet is its byte order (§15.3.3).
    pub fn encapsulation(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let Some(&order) = buf.first() else {
            return Err(DecodeError::invalid(
                "an encapsulation is empty: it needs its byte-order octet",
            ));
        };
        if order > 1 {
            return Err(DecodeError::invalid(format!(
                "an encapsulation's byte-order octet is {order}, not 0 or 1"
            )));
        }
        Ok(Reader {
            buf,
            pos: 1,
            origin: 0,
            little_endian: order == 1,
        })
    }

    pub fn little_endian(&self) -> bool {
        self.little_endian
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    /// The alignment offset of the next byte (its distance from the origin).
    pub fn offset(&self) -> usize {
        self.origin + self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Skips the padding before a value aligned on `n`. Padding past the end is not an error here:
    /// a value must follow, and reading it fails.
    pub fn align(&mut self, n: usize) {
        let pad = (n - self.offset() % n) % n;
        self.pos = (self.pos + pad).min(self.buf.len());
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::invalid(format!(
                "the message ends inside {what} ({n} bytes needed, {} left)",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        self.align(N);
        let s = self.take(N, what)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn octet(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn boolean(&mut self, what: &str) -> Result<bool, DecodeError> {
        match self.octet(what)? {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(DecodeError::invalid(format!(
                "{what} is the boolean {n}, not 0 or 1 (§15.3.1.5)"
            ))),
        }
    }

    pub fn ushort(&mut self, what: &str) -> Result<u16, DecodeError> {
        let a = self.array::<2>(what)?;
        Ok(if self.little_endian {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }

    pub fn short(&mut self, what: &str) -> Result<i16, DecodeError> {
        Ok(self.ushort(what)? as i16)
    }

    pub fn ulong(&mut self, what: &str) -> Result<u32, DecodeError> {
        let a = self.array::<4>(what)?;
        Ok(if self.little_endian {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    pub fn long(&mut self, what: &str) -> Result<i32, DecodeError> {
        Ok(self.ulong(what)? as i32)
    }

    pub fn ulonglong(&mut self, what: &str) -> Result<u64, DecodeError> {
        let a = self.array::<8>(what)?;
        Ok(if self.little_endian {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    }

    pub fn double(&mut self, what: &str) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(self.ulonglong(what)?))
    }

    /// A count of things that each take at least `min_each` bytes, checked against what is left.
    pub fn count(&mut self, min_each: usize, what: &str) -> Result<usize, DecodeError> {
        let n = self.ulong(what)? as usize;
        if n.saturating_mul(min_each.max(1)) > self.remaining() {
            return Err(DecodeError::invalid(format!(
                "{what} says {n} but only {} bytes are left",
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// `sequence<octet>`: a count and the bytes.
    pub fn octets(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let n = self.count(1, what)?;
        self.take(n, what)
    }

    /// `string` (§15.3.2.7): a length that counts a terminating NUL, the characters, the NUL. The
    /// characters are read as UTF-8 when they are UTF-8 and as ISO 8859-1 (CORBA's default char set
    /// when none was negotiated) otherwise, so no byte is ever lost. A length of 0 (no NUL at all)
    /// breaks the rule, but some ORBs send it for "": it reads as "".
    pub fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let n = self.count(1, what)?;
        if n == 0 {
            return Ok(String::new());
        }
        let bytes = self.take(n, what)?;
        let (chars, nul) = bytes.split_at(n - 1);
        if nul != [0] {
            return Err(DecodeError::invalid(format!(
                "{what} does not end with a NUL octet (§15.3.2.7)"
            )));
        }
        Ok(match std::str::from_utf8(chars) {
            Ok(s) => s.to_owned(),
            Err(_) => chars.iter().map(|&b| b as char).collect(),
        })
    }

    /// An encapsulation (§15.3.3): `sequence<octet>` whose content is read by its own [`Reader`].
    pub fn encapsulation_reader(&mut self, what: &str) -> Result<Reader<'a>, DecodeError> {
        let bytes = self.octets(what)?;
        Reader::encapsulation(bytes)
    }
}

/// Writes CDR in the byte order it was made with, aligning from its own start.
#[derive(Debug, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    little_endian: bool,
}

impl Writer {
    /// A writer for a whole message: the caller writes the 12-byte header first, so offsets count
    /// from the header's first byte as §15.3.1.1 wants.
    pub fn new(little_endian: bool) -> Self {
        Writer {
            buf: Vec::with_capacity(128),
            little_endian,
        }
    }

    /// A writer for an encapsulation: its byte-order octet is already written.
    pub fn encapsulation(little_endian: bool) -> Self {
        let mut w = Writer::new(little_endian);
        w.octet(u8::from(little_endian));
        w
    }

    pub fn little_endian(&self) -> bool {
        self.little_endian
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    pub fn align(&mut self, n: usize) {
        let pad = (n - self.buf.len() % n) % n;
        self.buf.resize(self.buf.len() + pad, 0);
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
    pub fn octet(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn boolean(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }
    pub fn ushort(&mut self, v: u16) {
        self.align(2);
        let b = if self.little_endian {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        self.raw(&b);
    }
    pub fn ulong(&mut self, v: u32) {
        self.align(4);
        let b = if self.little_endian {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        self.raw(&b);
    }
    pub fn long(&mut self, v: i32) {
        self.ulong(v as u32);
    }
    pub fn ulonglong(&mut self, v: u64) {
        self.align(8);
        let b = if self.little_endian {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        self.raw(&b);
    }
    pub fn octets(&mut self, v: &[u8]) {
        self.ulong(v.len() as u32);
        self.raw(v);
    }
    /// A string with its terminating NUL (§15.3.2.7).
    pub fn string(&mut self, v: &str) {
        self.ulong(v.len() as u32 + 1);
        self.raw(v.as_bytes());
        self.octet(0);
    }
    /// An encapsulation written by `f` into its own writer (same byte order), as a `sequence<octet>`.
    pub fn encapsulation_with(&mut self, f: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::encapsulation(self.little_endian);
        f(&mut inner);
        self.octets(&inner.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_counts_from_the_origin() {
        let mut w = Writer::new(true);
        w.octet(7);
        w.ulong(0x01020304);
        w.ushort(5);
        w.ulonglong(9);
        assert_eq!(w.len(), 1 + 3 + 4 + 2 + 6 + 8);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes, true);
        assert_eq!(r.octet("o").unwrap(), 7);
        assert_eq!(r.ulong("u").unwrap(), 0x01020304);
        assert_eq!(r.ushort("s").unwrap(), 5);
        assert_eq!(r.ulonglong("l").unwrap(), 9);
        assert!(r.is_empty());
        // The same ulong read from a piece that started at offset 12 (after a header) needs no padding.
        let mut r = Reader::with_origin(&[4, 0, 0, 0], 12, true);
        assert_eq!(r.ulong("u").unwrap(), 4);
    }

    #[test]
    fn strings_in_both_byte_orders() {
        for le in [true, false] {
            let mut w = Writer::new(le);
            w.string("Hello");
            let b = w.into_bytes();
            assert_eq!(b.len(), 10);
            assert_eq!(Reader::new(&b, le).string("s").unwrap(), "Hello");
        }
        assert_eq!(Writer::new(false).tap(|w| w.ulong(1)), [0, 0, 0, 1]);
    }

    #[test]
    fn refuses_bad_strings_and_huge_counts() {
        let e = Reader::new(&[2, 0, 0, 0, b'a', b'b'], true)
            .string("s")
            .unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
        let e = Reader::new(&[0xff, 0xff, 0xff, 0x7f, 1], true)
            .octets("key")
            .unwrap_err();
        assert!(e.to_string().contains("only 1 bytes"), "{e}");
        assert!(Reader::new(&[1], true).ulong("u").is_err());
        // Latin-1 bytes are kept, not lost.
        assert_eq!(
            Reader::new(&[2, 0, 0, 0, 0xe9, 0], true).string("s").unwrap(),
            "é"
        );
    }

    #[test]
    fn encapsulations_carry_their_own_byte_order() {
        let mut w = Writer::new(true);
        w.encapsulation_with(|e| {
            assert!(!e.is_empty());
            e.ulong(0x0a0b0c0d)
        });
        let b = w.into_bytes();
        // count 8, order octet 1, 3 bytes padding (alignment restarts at the order octet), the ulong
        assert_eq!(b, [8, 0, 0, 0, 1, 0, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a]);
        let mut inner = Reader::new(&b, true).encapsulation_reader("e").unwrap();
        assert_eq!(inner.ulong("u").unwrap(), 0x0a0b0c0d);
        assert!(Reader::encapsulation(&[]).is_err());
        assert!(Reader::encapsulation(&[7]).is_err());
    }

    trait Tap {
        fn tap(self, f: impl FnOnce(&mut Writer)) -> Vec<u8>;
    }
    impl Tap for Writer {
        fn tap(mut self, f: impl FnOnce(&mut Writer)) -> Vec<u8> {
            f(&mut self);
            self.into_bytes()
        }
    }
}
