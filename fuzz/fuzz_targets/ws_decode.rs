//! Fuzz the WebSocket codec: the server's upgrade check, the client's check of the answer, frame
//! headers and whole frames, close payloads, and the Deframer fed three bytes at a time: no input
//! may panic, loop or allocate without bound (`wire::ws::exercise`). The same body runs on every
//! `cargo test` over 8,000 deterministic mutations (`wire::ws::tests::mutated_inputs_never_panic`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wire::ws::exercise(data);
});
