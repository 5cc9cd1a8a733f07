//! Naming rules from SPEC §1: SPIFFE path segments and trust domains.
//!
//! Every name that ends up in a SPIFFE ID, a file path or a store key passes through here, so
//! a name can never smuggle a `/` or `..` into a provider path.

use crate::error::NameError;

/// Checks a SPIFFE path segment: `[A-Za-z0-9._-]+`, not `.` or `..`.
pub fn check_segment(field: &str, value: &str) -> Result<(), NameError> {
    // Names become path components (`<service>/mtls/.<scope>@<generation>`); 128 keeps every
    // component well under the 255-byte filesystem limit, so renew can always write them.
    let ok = !value.is_empty()
        && value.len() <= MAX_SEGMENT
        && value != "."
        && value != ".."
        // A leading '-' would read as an option wherever the name is an argument (the
        // bootstrapper's `--service`, systemd's ExecStart).
        && !value.starts_with('-')
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(NameError::Segment { field: field.to_string(), value: value.to_string() })
    }
}

/// The longest name inforge accepts (environment, service, scope, PKI).
pub const MAX_SEGMENT: usize = 128;

/// Checks a SPIFFE trust domain: `[a-z0-9._-]+`.
pub fn check_trust_domain(field: &str, value: &str) -> Result<(), NameError> {
    let ok = !value.is_empty()
        && value != "."
        && value != ".."
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(NameError::TrustDomain { field: field.to_string(), value: value.to_string() })
    }
}

/// Checks a DNS name for a leaf's DNS SANs (RFC 1123 labels; a leading `*.` wildcard is not
/// allowed: mesh leaves name exact services).
pub fn check_dns_name(field: &str, value: &str) -> Result<(), NameError> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !value.is_empty() && value.len() <= 253 && value.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(NameError::Dns { field: field.to_string(), value: value.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        for ok in ["api", "us-east-1", "a.b_c-D9", "..."] {
            assert!(check_segment("x", ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", "a:b"] {
            assert!(check_segment("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_names() {
        assert!(check_dns_name("d", "api.internal").is_ok());
        for bad in ["", "-a.b", "a..b", "*.x", "a_b.c", "a b"] {
            assert!(check_dns_name("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trust_domains() {
        assert!(check_trust_domain("baseDomain", "wardnet.example").is_ok());
        assert!(check_trust_domain("baseDomain", "Wardnet.example").is_err());
        assert!(check_trust_domain("baseDomain", "a/b").is_err());
        let e = check_trust_domain("baseDomain", "A").unwrap_err();
        assert!(e.to_string().contains("baseDomain"));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Valid segments are accepted and survive a SPIFFE ID round trip.
        #[test]
        fn valid_segments_round_trip(s in "[A-Za-z0-9._-]{1,30}") {
            prop_assume!(s != "." && s != ".." && !s.starts_with('-'));
            prop_assert!(check_segment("x", &s).is_ok());
            let id = crate::mesh::SpiffeId::new("w.example", "prd", &s, &s);
            prop_assert_eq!(crate::mesh::SpiffeId::parse(&id.to_string()).unwrap(), id);
        }

        /// Anything with a character outside the set is refused, naming the field.
        #[test]
        fn other_characters_are_refused(a in "[A-Za-z0-9]{0,5}", bad in "[^A-Za-z0-9._-]", b in "[A-Za-z0-9]{0,5}") {
            let s = format!("{a}{bad}{b}");
            let e = check_segment("service name", &s).unwrap_err();
            prop_assert!(e.to_string().contains("service name"));
        }
    }
}
