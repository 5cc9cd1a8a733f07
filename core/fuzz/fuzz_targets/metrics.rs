//! A host's metrics file as `inforge-bootstrap --metrics-file` reads it back before writing
//! the next one (anything may be in it: a hand edit, a truncated write, another exporter's
//! lines). Never panic; what was read, written again, reads back the same.
#![no_main]
use inforge_core::views::metrics::{host_exposition, host_previous};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let m = host_previous(text, "api", "eu-west-1");
    let again = host_previous(&host_exposition(&m), "api", "eu-west-1");
    assert_eq!(again.failures, m.failures);
    assert_eq!(again.last_success, m.last_success);
    assert_eq!(again.leaf_not_after, m.leaf_not_after);
});
