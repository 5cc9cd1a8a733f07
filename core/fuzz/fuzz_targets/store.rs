//! The store parser and writer: never panic; anything that parses writes back canonically.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(store) = inforge_core::model::store::Store::parse("fuzz", text) {
        let canonical = store.to_yaml();
        let again = inforge_core::model::store::Store::parse("fuzz", &canonical).expect("canonical output parses");
        assert_eq!(again.to_yaml(), canonical, "canonical form is a fixed point");
    }
});
