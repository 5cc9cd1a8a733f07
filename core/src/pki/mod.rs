//! One PKI's tiers and their life: the tier checks and custody facts (`tiers`), the writes
//! that grow a store (`lifecycle`), and rotations and recovery (`rotate`).

pub mod lifecycle;
pub mod root_crl;
pub mod rotate;
pub mod tiers;
