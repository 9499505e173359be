//! Fuzz the GIOP/CDR decoders, the fragment reassembler, the IOR and corbaloc parsers and the
//! CosNaming name parser: no input may panic, loop or allocate without bound.
//!
//! Input: one direction of a GIOP connection from its first byte, framed, reassembled and decoded as
//! the servers and the analyzer do; the same bytes as a stringified reference, a CosNaming name and
//! an IOR encapsulation (`wire::giop::exercise`). The same body runs on every `cargo test` over
//! 20,000 deterministic mutations (`wire::giop::tests::no_mutation_panics`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wire::giop::exercise(data);
});
