//! Showing a peer's bytes to a human.
//!
//! A peer may send anything: half a UTF-8 character at the end of a read, Latin-1, binary. sister never
//! panics on that and never hides it: [`show`] prints valid UTF-8 as it is and escapes everything else,
//! as `\xNN` byte values (as Wireshark's hex pane would name them), so a student sees exactly what was on
//! the wire.

/// The bytes as text: valid UTF-8 unchanged; `\n`, `\r`, `\t`; other ASCII control bytes and invalid
/// bytes as `\xNN`; the C1 control characters as `\u{NN}`.
///
/// ```
/// assert_eq!(wire::escape::show(b"Suhu: 28\xc2\xb0C"), "Suhu: 28°C");
/// assert_eq!(wire::escape::show(b"bad \xff byte"), "bad \\xff byte");
/// assert_eq!(wire::escape::show(b"two\nlines"), "two\\nlines");
/// ```
pub fn show(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        // Runs of characters that need no escape are copied whole (the analyzer shows megabytes of
        // payload); only control characters are written one by one.
        let mut run = 0;
        for (i, c) in valid.char_indices() {
            let escape = match c {
                ' '..='~' => continue,
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if c.is_control() => "",
                _ => continue,
            };
            out.push_str(&valid[run..i]);
            run = i + c.len_utf8();
            if escape.is_empty() && (c as u32) < 0x80 {
                // An ASCII control byte (NUL, ESC, DEL...): the byte's value, as tshark and
                // Wireshark's hex pane show it, not Rust's `\u{0}`.
                let _ = write!(out, "\\x{:02x}", c as u32);
            } else if escape.is_empty() {
                // A C1 control character (U+0080..U+009F, two bytes in UTF-8): its code point.
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            } else {
                out.push_str(escape);
            }
        }
        out.push_str(&valid[run..]);
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Like [`show`], but at most `max_chars` characters of it, then `… (N bytes)`: for log lines about
/// messages that may be a megabyte long.
///
/// ```
/// assert_eq!(wire::escape::preview(b"hello", 10), "hello");
/// assert_eq!(wire::escape::preview(&[b'a'; 2000], 3), "aaa… (2000 bytes)");
/// ```
pub fn preview(bytes: &[u8], max_chars: usize) -> String {
    let shown = show(bytes);
    match shown.char_indices().nth(max_chars) {
        None => shown,
        Some((cut, _)) => format!("{}… ({} bytes)", &shown[..cut], bytes.len()),
    }
}

/// True when the bytes are valid UTF-8 (so [`show`] changed nothing but control characters).
pub fn is_utf8(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_utf8_and_escapes_the_rest() {
        assert_eq!(
            show("Ada kanal Youtube baru nih: @x".as_bytes()),
            "Ada kanal Youtube baru nih: @x"
        );
        assert_eq!(show(b"\xc3"), "\\xc3"); // half of a two-byte character
        assert_eq!(show(b"\x00\x01"), "\\x00\\x01");
        assert_eq!(show(b""), "");
        assert_eq!(
            show(b"a\\b\tc\x7f\xc2\x85 \xe2\x82\xac"),
            "a\\b\\tc\\x7f\\u{85} \u{20ac}"
        );
    }
}
