//! Fuzz the JSON-RPC 2.0 server rules: no body may panic `respond`, and whatever it answers must be a
//! valid JSON-RPC response (or batch) that `decode_responses` reads back. Seeds: testdata/fuzz/jsonrpc/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::jsonrpc::{self, ErrorObject};

fuzz_target!(|data: &[u8]| {
    let answer = jsonrpc::respond(data, |req| {
        let _ = req.to_string();
        Err(ErrorObject::new(-32601, "fuzz"))
    });
    if let Some(body) = answer.encode() {
        let back = jsonrpc::decode_responses(&body).expect("an answer decodes");
        assert_eq!(back.len(), answer.responses().len());
    }
    let _ = jsonrpc::decode_responses(data);
});
