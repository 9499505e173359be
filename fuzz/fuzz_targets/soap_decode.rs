//! Fuzz the SOAP and WSDL readers: no document may panic them, expand an entity or escape the limits.
//! Seeds: testdata/fuzz/soap/ (zeep's call, spyne's answer and fault, spyne's WSDL).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::xml::Limits;
use wire::{soap, wsdl};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(call) = soap::decode_call(data, &limits) {
        let _ = call.to_string();
    }
    let _ = soap::decode_reply(data, &limits);
    if let Ok(service) = wsdl::parse(data, &limits) {
        // A WSDL that parses renders to one that parses to the same service.
        let again = wsdl::parse(wsdl::render(&service).as_bytes(), &limits).expect("rendered WSDL parses");
        assert_eq!(again.operations.len(), service.operations.len());
    }
});
