//! Arbitrary bytes in both directions of a TLS conversation, cut at arbitrary points (0xfe separates
//! the pieces; the first byte chooses whether the capture started mid-stream).
#![no_main]
use analyze::dissect::{tls::Tls, Dissector, Messages};
use analyze::report::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mid_stream = data.first().is_some_and(|b| b & 1 == 1);
    let mut t = Tls::new(8883, mid_stream);
    let mut out = Messages::new(64);
    let mut offsets = [0u64; 2];
    for (i, piece) in data.split(|&b| b == 0xfe).enumerate() {
        let dir = if i % 2 == 0 { Direction::ClientToServer } else { Direction::ServerToClient };
        t.data(dir, i as f64, offsets[i % 2], piece, &mut out);
        offsets[i % 2] += piece.len() as u64;
    }
    t.end(Direction::ServerToClient, 1e9, &mut out);
    let mut notes = Vec::new();
    t.finish(1e9, &mut out, &mut notes);
});
