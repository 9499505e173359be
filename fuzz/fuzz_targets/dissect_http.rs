//! Arbitrary bytes in both directions of an HTTP conversation, cut at arbitrary points.
#![no_main]
use analyze::dissect::{http::Http, Dissector};
use analyze::report::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut h = Http::new();
    let mut out = Vec::new();
    let mut offsets = [0u64; 2];
    for (i, piece) in data.split(|&b| b == 0xfe).enumerate() {
        let dir = if i % 2 == 0 { Direction::ClientToServer } else { Direction::ServerToClient };
        h.data(dir, i as f64, offsets[i % 2], piece, &mut out);
        offsets[i % 2] += piece.len() as u64;
    }
    h.end(Direction::ServerToClient, 1e9, &mut out);
    let mut notes = Vec::new();
    h.finish(1e9, &mut out, &mut notes);
});
