//! Certificate and SPIFFE ID parsing: never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = inforge_core::crypto::cert::Cert::from_der(data, "fuzz") {
        let _ = (c.subject(), c.uri_sans(), c.dns_sans(), c.basic_constraints(), c.key_usage(), c.not_after());
        let _ = c.verify_signed_by(&c, "fuzz");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = inforge_core::crypto::cert::parse_bundle(text, "fuzz");
        let _ = inforge_core::mesh::SpiffeId::parse(text);
    }
});
