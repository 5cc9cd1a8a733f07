//! Quorum policies as `pki init --quorum M --custodian …` and `pki rekey --root` take them:
//! the first line is the threshold, the rest custodians. Never panic; an accepted policy has
//! 1 ≤ M ≤ N, distinct canonical custodians, none of them the CI recipient.
#![no_main]
use inforge_core::crypto::custody::same_recipient;
use inforge_core::crypto::quorum::check_policy;
use libfuzzer_sys::fuzz_target;

const CI: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let Some(Ok(m)) = lines.next().map(str::parse::<u32>) else { return };
    let custodians: Vec<String> = lines.map(str::to_string).collect();
    if let Ok(ok) = check_policy(m, &custodians, CI) {
        assert!(m >= 1 && m as usize <= ok.len() && ok.len() == custodians.len());
        for (i, a) in ok.iter().enumerate() {
            assert!(!same_recipient(a, CI));
            assert!(ok[i + 1..].iter().all(|b| !same_recipient(a, b)));
        }
    }
});
