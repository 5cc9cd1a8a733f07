//! The store-file commands for git: `store merge` (three stores split on 0xFF bytes), `store
//! diff` and `store show` never panic; a clean merge is a store that parses back to its
//! canonical text, and merging it with itself changes nothing.
#![no_main]
use inforge_core::ops;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xFF).map(|p| std::str::from_utf8(p).unwrap_or(""));
    let (base, ours, theirs) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let _ = ops::show_store("fuzz", ours);
    let _ = ops::review_stores(("old", base), ("new", theirs), Some("prd"));
    if let Ok(ops::Merged::Clean { text, .. }) = ops::merge_stores(Some(base), ours, theirs, Some("prd")) {
        let back = inforge_core::model::store::Store::parse("merged", &text).expect("a clean merge parses");
        assert_eq!(back.to_yaml(), text, "a clean merge is canonical");
        match ops::merge_stores(Some(&text), &text, &text, Some("prd")) {
            Ok(ops::Merged::Clean { text: again, .. }) => assert_eq!(again, text, "merging a store with itself"),
            other => panic!("merging a clean merge with itself: {other:?}"),
        }
    }
});
