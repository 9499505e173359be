//! Any frame under any of the link types sister decodes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else { return };
    let lt = [0u16, 1, 101, 108, 113, 228, 229, 276][usize::from(sel) % 8];
    let _ = wire::net::decode(lt, frame);
});
