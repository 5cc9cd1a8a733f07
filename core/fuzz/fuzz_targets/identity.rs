//! Identities and recipients as shells read them (environment variables, key files with
//! comments and several identities, quorum custodians): never panic, and a parsed recipient is
//! canonical (comparing it with itself in any case holds).
#![no_main]
use inforge_core::crypto::custody::{
    parse_custodian_recipient, parse_recipient, plugin_name, same_recipient, Custodian, Identity,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(mut id) = Identity::parse(Custodian::Ci, "fuzz", Some(text)) {
        if let Some(r) = id.recipient() {
            assert!(same_recipient(&r, &r.to_ascii_uppercase()));
            assert!(id.expect_recipient(&r).is_ok());
        }
        // Plugin lines are kept for the shell, never echoed in a Debug rendering.
        for line in id.take_plugin_lines() {
            assert!(!format!("{id:?}").contains(line.as_str()));
        }
    }
    if let Ok(r) = parse_recipient("fuzz", text) {
        assert!(same_recipient(&r, text));
    }
    if let Ok(r) = parse_custodian_recipient("fuzz", text) {
        assert!(r == r.to_ascii_lowercase());
        assert!(parse_recipient("fuzz", &r).is_ok() || plugin_name(&r).is_some());
    }
});
