//! age armor from the store: decrypting arbitrary ciphertext (and a key check against a
//! certificate) never panics, and an error never carries the plaintext.
#![no_main]
use inforge_core::crypto::custody::{Custodian, Identity};
use libfuzzer_sys::fuzz_target;

// A fixed, public test identity: the fuzzer explores the parser, not the key.
const ID: &str = "AGE-SECRET-KEY-10E45JHSVMM3FQWFNPTR8U77V0Z8XYRWYH9PW8T386X6ESVCFSQAS7DGTE6"; // throwaway, test-only: never a real custodian

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let id = Identity::parse(Custodian::Ci, "fuzz", Some(ID)).expect("test identity");
    if let Err(e) = id.open(text, "pkis.fuzz.key") {
        assert!(!e.to_string().contains(ID));
    }
});
