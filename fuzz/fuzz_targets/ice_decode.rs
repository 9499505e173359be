//! Fuzz the Ice protocol decoders: no input may panic, loop or allocate without bound.
//!
//! Input: one direction of an Ice connection from its first byte, decoded as the capture analyzer
//! does (a message, or skip a message whose body breaks a rule); what decodes must re-encode to the
//! same bytes; the bzip2 decompressor and the "parameters as strings" guess get the bytes too
//! (`wire::ice::exercise`). The same invariants run on every `cargo test` over 20,000 deterministic
//! mutations of the course's request and reply (`wire::ice::tests::mutated_messages_never_panic`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wire::ice::exercise(data);
});
