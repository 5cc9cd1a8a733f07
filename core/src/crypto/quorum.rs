//! Quorum custody of the offline root identity (SPEC §10): Shamir's secret sharing over
//! GF(256) (the `blahaj` crate, the maintained fork of `sharks` without RUSTSEC-2024-0398's
//! biased coefficients) splits the identity's text into N shares with threshold M, each
//! sealed to one custodian. Each share carries a public integrity check, so a wrong share
//! (tampered, or from another split) is named by its custodian instead of silently rebuilding
//! a wrong identity or forcing a search over subsets.
//!
//! Splitting draws its coefficients from the operation's [`Effects`] RNG like every other
//! secret, so it is IO-free and testable with a seeded RNG.

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::crypto::custody::{parse_custodian_recipient, same_recipient, Custodian, Identity, Sealer};
use crate::error::CustodyError;
use crate::model::limits::MAX_CUSTODIANS;
use crate::model::store::{Block, Quorum, SealedShare};
use crate::Error;

/// The label every share check starts with (a new scheme gets a new label).
const CHECK_LABEL: &[u8] = b"inforge root share v1\0";

/// The integrity check of one share: SHA-256 over the label, the canonical root recipient
/// and the share bytes. Binding the recipient means a share of another split never passes.
pub fn share_check(root_recipient: &str, share: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(CHECK_LABEL);
    h.update(root_recipient.trim().to_ascii_lowercase().as_bytes());
    h.update([0u8]);
    h.update(share);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a quorum policy given on the command line: `1 ≤ threshold ≤ N ≤ 255`, distinct,
/// well-formed custodians, none of them the CI recipient (CI must never hold a root share).
/// Returns the custodians in canonical form.
pub fn check_policy(threshold: u32, custodians: &[String], ci_recipient: &str) -> Result<Vec<String>, Error> {
    let bad = |problem: String| -> Error { CustodyError::QuorumPolicyInvalid { problem }.into() };
    let n = custodians.len();
    if n == 0 {
        return Err(bad("a quorum needs at least one custodian".into()));
    }
    if n > MAX_CUSTODIANS {
        return Err(bad(format!("{n} custodians: at most {MAX_CUSTODIANS} (Shamir over GF(256))")));
    }
    if threshold == 0 || threshold as usize > n {
        return Err(bad(format!("threshold {threshold} with {n} custodians: it must be between 1 and {n}")));
    }
    let mut out: Vec<String> = Vec::with_capacity(n);
    for (i, c) in custodians.iter().enumerate() {
        let r = parse_custodian_recipient(&format!("custodian {}", i + 1), c)?;
        if out.iter().any(|o| same_recipient(o, &r)) {
            return Err(bad(format!("custodian {} ({r}) is named twice: each share needs its own custodian", i + 1)));
        }
        if same_recipient(&r, ci_recipient) {
            return Err(bad(format!(
                "custodian {} ({r}) is the CI recipient: CI must never hold a share of the offline root",
                i + 1
            )));
        }
        out.push(r);
    }
    Ok(out)
}

/// Splits `root` (a freshly generated offline root identity) into one share per custodian
/// with `threshold`, sealing share i to custodian i. `custodians` must have passed
/// [`check_policy`].
pub fn split(
    root: &Identity,
    threshold: u32,
    custodians: &[String],
    rng: &mut impl CryptoRngCore,
    sealer: &mut dyn Sealer,
) -> Result<Quorum, Error> {
    let root_recipient = root.recipient().ok_or(CustodyError::IdentityMissing { custodian: Custodian::OfflineRoot })?;
    let secret = root.reveal();
    let m = u8::try_from(threshold).map_err(|_| CustodyError::QuorumPolicyInvalid {
        problem: format!("threshold {threshold}: at most {MAX_CUSTODIANS}"),
    })?;
    // `rand` 0.8's `Rng` (what blahaj asks for) is implemented for every `rand_core` 0.6 RNG.
    let dealer = blahaj::Sharks(m).dealer_rng(secret.as_bytes(), rng);
    let mut shares = Vec::with_capacity(custodians.len());
    for (i, (share, custodian)) in dealer.zip(custodians).enumerate() {
        let bytes = Zeroizing::new(Vec::<u8>::from(&share));
        let sealed = sealer.seal(custodian, &bytes, &format!("rootQuorum.shares[{i}]"))?;
        shares.push(SealedShare {
            custodian: custodian.clone(),
            check: share_check(&root_recipient, &bytes),
            share: Block::new(sealed),
        });
    }
    Ok(Quorum { threshold, shares })
}

/// Rebuilds the offline root identity from the custodians' identities (one per source, e.g.
/// one per file of `INFORGE_PKI_ROOT_KEY_FILE=a:b`), checks every share that opens, and checks
/// the result against `root_recipient`. Nothing rebuilt leaves memory; shares are zeroized.
pub fn rebuild(sources: &[Identity], quorum: &Quorum, root_recipient: &str) -> Result<Identity, Error> {
    let needed = quorum.threshold as usize;
    let mut opened: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut missing = Vec::new();
    for (i, sealed) in quorum.shares.iter().enumerate() {
        let mut share = None;
        for source in sources {
            match source.try_open(sealed.share.as_str()) {
                Ok(bytes) => {
                    share = Some((bytes, source));
                    break;
                }
                Err(age::DecryptError::NoMatchingKeys) => continue,
                // The custodian's key matched but the file does not decrypt: tampered.
                Err(
                    age::DecryptError::DecryptionFailed
                    | age::DecryptError::InvalidHeader
                    | age::DecryptError::InvalidMac
                    | age::DecryptError::KeyDecryptionFailed
                    | age::DecryptError::UnknownFormat,
                ) => {
                    return Err(CustodyError::ShareInvalid {
                        custodian: sealed.custodian.clone(),
                        source_name: source.source().to_string(),
                        reason: "it does not decrypt".into(),
                    }
                    .into())
                }
                // Anything else (a plugin that ran and failed: a removed token, a refused
                // touch): say so, naming the share.
                Err(e) => {
                    return Err(CustodyError::Decrypt {
                        location: format!("rootQuorum.shares[{i}] ({})", sealed.custodian),
                        reason: e.to_string(),
                    }
                    .into())
                }
            }
        }
        match share {
            Some((bytes, source)) => {
                if share_check(root_recipient, &bytes) != sealed.check {
                    return Err(CustodyError::ShareInvalid {
                        custodian: sealed.custodian.clone(),
                        source_name: source.source().to_string(),
                        reason: "it fails its integrity check (tampered, or a share of another split)".into(),
                    }
                    .into());
                }
                opened.push(bytes);
            }
            None => missing.push(sealed.custodian.clone()),
        }
    }
    if opened.len() < needed {
        return Err(CustodyError::QuorumNotMet { opened: opened.len(), needed, missing, given: sources.len() }.into());
    }
    let shares: Vec<blahaj::Share> = opened[..needed]
        .iter()
        .map(|b| blahaj::Share::try_from(&b[..]))
        .collect::<Result<_, _>>()
        .map_err(|_| quorum_inconsistent(root_recipient))?;
    let secret =
        Zeroizing::new(blahaj::Sharks(needed as u8).recover(&shares).map_err(|_| quorum_inconsistent(root_recipient))?);
    let text = std::str::from_utf8(&secret).map_err(|_| quorum_inconsistent(root_recipient))?;
    let native = text.parse::<age::x25519::Identity>().map_err(|_| quorum_inconsistent(root_recipient))?;
    let id = Identity::from_age(native, Custodian::OfflineRoot);
    if !id.recipient().is_some_and(|r| same_recipient(&r, root_recipient)) {
        return Err(quorum_inconsistent(root_recipient));
    }
    Ok(id)
}

/// Every share passed its check but the rebuilt identity is not `rootRecipient`'s: the policy
/// itself was replaced (someone rewrote the checks too).
fn quorum_inconsistent(root_recipient: &str) -> Error {
    CustodyError::IdentityWrong {
        custodian: Custodian::OfflineRoot,
        field: "rootRecipient",
        expected: root_recipient.trim().to_string(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::custody::tests::{identity, TestSealer};
    use rand_core::SeedableRng;

    fn custodians(n: usize) -> Vec<Identity> {
        (0..n).map(|_| identity(Custodian::OfflineRoot)).collect()
    }

    fn split_to(holders: &[Identity], threshold: u32) -> (Identity, Quorum) {
        let root = identity(Custodian::OfflineRoot);
        let names: Vec<String> = holders.iter().map(|h| h.recipient().unwrap()).collect();
        let names = check_policy(threshold, &names, &identity(Custodian::Ci).recipient().unwrap()).unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let q = split(&root, threshold, &names, &mut rng, &mut TestSealer).unwrap();
        (root, q)
    }

    fn as_source(h: &Identity, name: &str) -> Identity {
        Identity::parse(Custodian::OfflineRoot, name, Some(&h.reveal())).unwrap()
    }

    #[test]
    fn any_two_of_three_rebuild_the_root_and_one_does_not() {
        let holders = custodians(3);
        let (root, q) = split_to(&holders, 2);
        let rr = root.recipient().unwrap();
        for pair in [[0, 1], [0, 2], [1, 2]] {
            let sources: Vec<Identity> = pair.iter().map(|&i| as_source(&holders[i], &format!("file{i}"))).collect();
            let rebuilt = rebuild(&sources, &q, &rr).unwrap();
            assert_eq!(rebuilt.recipient(), root.recipient());
        }
        let e = rebuild(&[as_source(&holders[1], "file1")], &q, &rr).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "quorum-not-met");
        let msg = e.to_string();
        assert!(msg.contains("1 of") && msg.contains("2 needed"), "{msg}");
        assert!(msg.contains(&holders[0].recipient().unwrap()) && msg.contains(&holders[2].recipient().unwrap()));
        assert!(!msg.contains(&holders[1].recipient().unwrap()), "{msg}");
        // A stranger's identity opens nothing.
        let e = rebuild(&[as_source(&identity(Custodian::OfflineRoot), "x")], &q, &rr).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "quorum-not-met");
    }

    #[test]
    fn a_single_share_reveals_nothing_about_the_root_text() {
        // Threshold 2: one share's y-bytes are uniformly distributed; at least they are not the
        // identity's bytes, and two splits of one identity give different shares.
        let holders = custodians(2);
        let (root, q) = split_to(&holders, 2);
        let opened = holders[0].open(q.shares[0].share.as_str(), "s").unwrap();
        assert!(!opened.windows(16).any(|w| root.reveal().as_bytes().windows(16).any(|r| r == w)));
    }

    #[test]
    fn a_tampered_or_foreign_share_is_named_by_its_custodian() {
        let holders = custodians(3);
        let (root, mut q) = split_to(&holders, 2);
        let rr = root.recipient().unwrap();
        // A share from another split of another root, resealed to custodian 0.
        let (_, other) = split_to(&holders, 2);
        q.shares[0].share = other.shares[0].share.clone();
        let sources: Vec<Identity> = (0..2).map(|i| as_source(&holders[i], &format!("file{i}"))).collect();
        let e = rebuild(&sources, &q, &rr).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "share-invalid");
        assert!(e.to_string().contains(&holders[0].recipient().unwrap()) && e.to_string().contains("file0"));
        // A check that belongs to another root recipient fails the same way.
        let (root2, q2) = split_to(&holders, 2);
        let e = rebuild(&sources, &q2, &root.recipient().unwrap()).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "share-invalid");
        assert!(rebuild(&sources, &q2, &root2.recipient().unwrap()).is_ok());
    }

    #[test]
    fn bad_policies_are_refused_with_the_rule() {
        let ci = identity(Custodian::Ci).recipient().unwrap();
        let a = identity(Custodian::OfflineRoot).recipient().unwrap();
        let b = identity(Custodian::OfflineRoot).recipient().unwrap();
        for (m, cs, needle) in [
            (0, vec![a.clone(), b.clone()], "between 1 and 2"),
            (3, vec![a.clone(), b.clone()], "between 1 and 2"),
            (1, vec![], "at least one custodian"),
            (1, vec![a.clone(), a.to_ascii_uppercase()], "named twice"),
            (1, vec![a.clone(), ci.clone()], "CI recipient"),
        ] {
            let e = check_policy(m, &cs, &ci).unwrap_err();
            assert_eq!(crate::Coded::code(&e), "quorum-invalid", "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
        let e = check_policy(1, &["age1nope".to_string()], &ci).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "recipient-invalid");
        // A plugin recipient is a custodian (sealed through its plugin by the shell).
        let plugin = "age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t";
        assert_eq!(crate::crypto::custody::plugin_name(plugin).as_deref(), Some("yubikey"));
        assert!(check_policy(1, &[plugin.to_string()], &ci).is_ok());
        assert_eq!(crate::crypto::custody::plugin_name(&a), None);
    }

    #[test]
    fn threshold_one_gives_each_custodian_the_whole_identity() {
        let holders = custodians(2);
        let (root, q) = split_to(&holders, 1);
        for (i, h) in holders.iter().enumerate() {
            let r = rebuild(&[as_source(h, "f")], &q, &root.recipient().unwrap()).unwrap();
            assert_eq!(r.recipient(), root.recipient(), "custodian {i}");
        }
    }
}
