//! inforge.yaml / regions.yaml parsing and credential-free validation: never panic; a parsed
//! config survives the config cache's entry unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Split into the two files at a character boundary near the middle.
    let mid = (0..=text.len() / 2).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    let (a, b) = text.split_at(mid);
    if let Ok(project) = inforge_core::model::config::Project::parse(a, Some(b)) {
        // A kept parse (model::config_cache) gives back exactly what the parse gave.
        use inforge_core::model::config_cache::{decode, digest, encode, key};
        let k = key("fuzz", &digest(a, Some(b)));
        let back = decode(&encode(&project, &k), &k).expect("an entry of a parsed config decodes");
        assert_eq!(format!("{back:?}"), format!("{project:?}"), "the cache round trip changes nothing");
    }
    let _ = inforge_core::views::validate::validate_texts(a, None, Some(b), "prd", time::OffsetDateTime::UNIX_EPOCH);
});
