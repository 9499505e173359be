//! Fuzz the ZMTP 3.x decoders: no input may panic, loop or allocate without bound.
//!
//! Input: one direction of a ZMTP connection from its first byte (greeting, then frames), decoded as
//! the capture analyzer does; the same bytes also go to the frame, command, greeting-prefix and pickle
//! decoders on their own (`wire::zmtp::exercise`). Seeds: testdata/fuzz/zmtp/ (the six directions of the
//! course's capture). The same invariants run on every `cargo test` over 20,000 deterministic mutations
//! of the seeds (`wire::zmtp::tests::mutated_captures_never_panic`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wire::zmtp::exercise(data);
});
