//! Keys, certificates and custody: generating and reading keys (behind the `KeyBackend`
//! seam), reading and verifying certificates, issuing per tier (profiles), age identities and
//! sealing, and the effects (time, randomness, sealing) that travel to every operation that
//! creates keys.

pub mod cert;
pub mod crl;
pub mod custody;
pub mod effects;
pub mod keys;
pub mod profile;
pub mod quorum;
