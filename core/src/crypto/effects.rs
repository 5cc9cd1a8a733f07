//! What an operation draws from outside the core, travelling together: the time, randomness,
//! and sealing (age draws its own entropy when it encrypts, so the shell provides an
//! encrypter). Every operation that creates keys or certificates takes one [`Effects`].

use time::OffsetDateTime;

use crate::crypto::custody::Sealer;

/// What an operation that creates keys draws from outside the core: the time, randomness, and
/// sealing (age draws its own entropy, so the shell provides an encrypter).
pub struct Effects<'a, R> {
    /// The command's time (the clock or `INFORGE_NOW`).
    pub now: OffsetDateTime,
    /// Randomness for keys and serials.
    pub rng: &'a mut R,
    /// Encryption to age recipients.
    pub sealer: &'a mut dyn Sealer,
}
