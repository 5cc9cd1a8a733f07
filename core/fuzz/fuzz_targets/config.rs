//! inforge.yaml / regions.yaml parsing and credential-free validation: never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Split into the two files at a character boundary near the middle.
    let mid = (0..=text.len() / 2).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    let (a, b) = text.split_at(mid);
    let _ = inforge_core::model::config::Project::parse(a, Some(b));
    let _ = inforge_core::views::validate::validate_texts(a, None, Some(b), "prd", time::OffsetDateTime::UNIX_EPOCH);
});
