//! A set as the bootstrapper fetches it from a provider (cert.pem, key.pem, bundle.pem,
//! crl.pem, bundle.spiffe.json, any bytes a provider writer could plant): `verify_set` never
//! panics, and whatever it accepts is this service's leaf in this scope. The input is split
//! into the five files at the first four NUL bytes (the last two may be absent); a seed corpus of real sets lets it reach the deep checks.
#![no_main]
use inforge_core::mesh::projection::{verify_set, SetTexts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(5, '\0');
    let (Some(cert), Some(key), Some(bundle)) = (parts.next(), parts.next(), parts.next()) else { return };
    let crl = parts.next().unwrap_or_default();
    let spiffe = parts.next().unwrap_or_default();
    let set = SetTexts {
        cert: cert.into(),
        key: key.to_string().into(),
        bundle: bundle.into(),
        spiffe: spiffe.into(),
        crl: crl.into(),
    };
    let now = time::OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
    if let Ok(p) = verify_set("api", "global", &set, now) {
        assert!(p.spiffe_id.ends_with("/global/api"), "{}", p.spiffe_id);
    }
});
