//! Fuzz the HTTP/1.1 request decoder of the rpc and soap servers (`wire::http::Decoder`): the input is
//! what a client sends, cut into reads at each 0xfe byte. No input may panic it, and every request it
//! returns must respect the limits. Seeds: testdata/fuzz/http_request/.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wire::http::exercise(data));
