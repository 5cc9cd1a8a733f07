//! Identities and recipients as shells read them (environment variables, key files): never
//! panic, and a parsed recipient is canonical (comparing it with itself in any case holds).
#![no_main]
use inforge_core::crypto::custody::{parse_recipient, same_recipient, Custodian, Identity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = Identity::parse(Custodian::Ci, "fuzz", Some(text)) {
        let r = id.recipient();
        assert!(same_recipient(&r, &r.to_ascii_uppercase()));
    }
    if let Ok(r) = parse_recipient("fuzz", text) {
        assert!(same_recipient(&r, text));
    }
});
