//! Any bytes as a capture file: the reader returns packets or an error, never panics, never allocates
//! beyond its bound.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = capture::read::Reader::new(data) {
        while let Ok(Some(p)) = r.next_packet() {
            let _ = p.is_truncated();
        }
    }
});
