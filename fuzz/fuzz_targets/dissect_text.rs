//! The dissector chooser and the text/JSON/SOAP/JSON-RPC describers on arbitrary bytes.
#![no_main]
use analyze::dissect::{Hints, Session};
use analyze::report::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let mut s = Session::new(Hints { server_port: u16::from(sel) * 7, udp: sel & 1 == 1 });
    let mut out = Vec::new();
    let mut off = 0u64;
    for piece in rest.split(|&b| b == 0xfe) {
        s.data(Direction::ClientToServer, 0.0, off, piece, &mut out);
        off += piece.len() as u64;
    }
    let _ = analyze::dissect::soap::describe(rest, sel & 2 == 2, &mut Default::default());
    let mut notes = Vec::new();
    s.finish(1.0, &mut out, &mut notes);
});
