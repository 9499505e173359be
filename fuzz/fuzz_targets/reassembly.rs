//! Segments with arbitrary sequence numbers and lengths: the stream handed on is contiguous and bounded.
#![no_main]
use analyze::reassembly::{Chunk, Reassembler};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reassembler::new();
    let mut next = 0u64;
    let mut check = |c: Chunk<'_>| match c {
        Chunk::Data { offset, bytes } => {
            assert_eq!(offset, next);
            next += bytes.len() as u64;
        }
        Chunk::Gap { offset, len } => {
            assert_eq!(offset, next);
            next += len;
        }
    };
    for seg in data.chunks(12) {
        if seg.len() < 6 {
            break;
        }
        let seq = u32::from_be_bytes([seg[0], seg[1], seg[2], seg[3]]) % 4096;
        let len = usize::from(seg[4]) % 64;
        let payload = vec![seg[5]; len];
        r.segment(seq, &payload, &mut check);
    }
    r.finish(&mut check);
});
