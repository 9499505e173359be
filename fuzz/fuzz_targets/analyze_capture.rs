//! The whole pipeline on an arbitrary capture file: reader, decoding, flows, reassembly, dissectors,
//! report.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = capture::read::Reader::new(data) else { return };
    let mut a = analyze::Analyzer::new(analyze::Options::default());
    while let Ok(Some(p)) = r.next_packet() {
        a.packet(&p);
    }
    let (report, _) = a.finish();
    let _ = analyze::text::render(&report);
});
