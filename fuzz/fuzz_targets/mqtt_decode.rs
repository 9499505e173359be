//! Fuzz the MQTT decoder: no input may panic, loop or allocate without bound, and whatever decodes
//! must encode again and decode to the same packet.
//!
//! Input: the first byte picks the version the stream is read in (0: 3.1.1, 1: 5.0, 2: 3.1), the rest is
//! a stream of packets, decoded one after the other as a broker would. Seeds: testdata/fuzz/mqtt/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::mqtt::{self, Version};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let version = match pick % 3 {
        0 => Version::V3_1_1,
        1 => Version::V5,
        _ => Version::V3_1,
    };
    // A 1 MiB limit, as a broker would set: larger announced packets are refused from the header.
    while !rest.is_empty() {
        let decoder = || mqtt::Decoder::with_version(version).with_limit(1 << 20);
        let _ = decoder().frame(rest);
        let decoded = decoder().decode(rest);
        // The zero-copy decoder must see exactly the same packet.
        let shared = decoder().decode_bytes(&bytes::Bytes::copy_from_slice(rest));
        assert_eq!(shared, decoded);
        match decoded {
            Ok((packet, used)) => {
                assert!(used > 0 && used <= rest.len());
                let _ = packet.to_string();
                let bytes = packet.to_vec(version).expect("a decoded packet re-encodes");
                let (again, n) = decoder().decode(&bytes).expect("a re-encoded packet decodes");
                assert_eq!(again, packet);
                assert_eq!(n, bytes.len());
                rest = &rest[used..];
            }
            Err(e) => {
                let _ = e.to_string();
                let _ = e.reason_code();
                break;
            }
        }
    }
});
