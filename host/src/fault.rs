//! Crash-safety test hook. With the `test-faults` feature (enabled only by the test builds:
//! inforge-cli's dev-dependency turns it on for `cargo test`),
//! `INFORGE_TEST_FAULT=<point>` aborts the process at that point, as a crash or a SIGKILL
//! would, so the scenarios can reach every step of a write. Without the feature (every
//! release binary, the Python wheel) [`fault_point`] is empty and the variable is never read.

/// Aborts here when `INFORGE_TEST_FAULT` names `point` (test builds only).
#[cfg(feature = "test-faults")]
#[inline]
pub fn fault_point(point: &str) {
    if std::env::var_os("INFORGE_TEST_FAULT").is_some_and(|v| v == point) {
        std::process::abort();
    }
}

/// Pauses here for two seconds when `INFORGE_TEST_PAUSE` names `point` (test builds only),
/// saying so on stderr, so a scenario can act while a writer holds its lock.
#[cfg(feature = "test-faults")]
pub fn pause_point(point: &str) {
    if std::env::var_os("INFORGE_TEST_PAUSE").is_some_and(|v| v == point) {
        eprintln!("inforge: test pause at {point}");
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

/// Does nothing: this build has no test pauses.
#[cfg(not(feature = "test-faults"))]
#[inline(always)]
pub fn pause_point(_point: &str) {}

/// Does nothing: this build has no test faults.
#[cfg(not(feature = "test-faults"))]
#[inline(always)]
pub fn fault_point(_point: &str) {}

#[cfg(all(test, not(feature = "test-faults")))]
mod tests {
    /// A build without the feature never reads the variable: the process survives a fault
    /// point named in it.
    #[test]
    fn without_the_feature_a_fault_point_does_nothing() {
        // SAFETY-free: set_var is safe on edition 2021; this test is the only reader.
        std::env::set_var("INFORGE_TEST_FAULT", "unit-test-point");
        super::fault_point("unit-test-point");
        std::env::remove_var("INFORGE_TEST_FAULT");
    }
}
