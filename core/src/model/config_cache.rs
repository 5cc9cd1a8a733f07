//! A checked config kept between runs, so a release-time `renew --service` on a big
//! `inforge.yaml` does not parse 400 KB of YAML every time (docs/performance.md).
//!
//! Strict by construction: an entry is only ever made from a [`Project`] that passed
//! [`Project::parse`], and it is found only by the SHA-256 of the exact bytes of
//! `inforge.yaml` and `regions.yaml` ([`digest`]) together with the build that parsed them
//! ([`key`]). A changed character, a new region or another inforge build is a different key,
//! so the full strict parse runs again and reports what it always reported. The entry itself is JSON of the same
//! serde types (unknown fields are errors there too), and its names are checked again on the
//! way in, so a damaged or edited entry is refused rather than trusted. Where entries live,
//! and who may write them, is the host's business; this module is the format.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::config::{Project, ProjectConfig};

/// Configs smaller than this parse in about a millisecond: keeping them would cost more than
/// it saves, so the host neither reads nor writes an entry for them.
pub const MIN_CACHED_BYTES: usize = 64 * 1024;

/// The first line's tag; bumped whenever the entry's shape changes.
const MAGIC: &str = "inforge-config-cache/1";

/// The SHA-256 of both files, each length-prefixed so no two different inputs share a byte
/// string (an absent `regions.yaml` differs from an empty one). Lower-case hex. What a process
/// keeps in memory is found by this alone; an entry on disk by [`key`].
pub fn digest(inforge_yaml: &str, regions_yaml: Option<&str>) -> String {
    hash(&[(b"inforge.yaml", Some(inforge_yaml.as_bytes())), (b"regions.yaml", regions_yaml.map(str::as_bytes))])
}

/// The key of an entry: the SHA-256 of the format, the build and the files' [`digest`].
pub fn key(build: &str, digest: &str) -> String {
    hash(&[(MAGIC.as_bytes(), None), (b"build", Some(build.as_bytes())), (b"digest", Some(digest.as_bytes()))])
}

fn hash(parts: &[(&[u8], Option<&[u8]>)]) -> String {
    let mut h = Sha256::new();
    for (tag, bytes) in parts {
        h.update(tag);
        match bytes {
            Some(b) => {
                h.update((b.len() as u64 + 1).to_be_bytes());
                h.update(b);
            }
            None => h.update(0u64.to_be_bytes()),
        }
    }
    crate::crypto::cert::hex(&h.finalize())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryOut<'a> {
    config: &'a ProjectConfig,
    regions: &'a [String],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EntryIn {
    config: ProjectConfig,
    regions: Vec<String>,
}

/// The entry for `project` under `key`: a header line naming the format and the key, then
/// the project as JSON. `project` must come from [`Project::parse`].
pub fn encode(project: &Project, key: &str) -> String {
    let body =
        serde_json::to_string(&EntryOut { config: &project.config, regions: &project.regions }).unwrap_or_default();
    format!("{MAGIC} {key}\n{body}\n")
}

/// The project an entry holds, if it is an intact entry for exactly `key` whose names still
/// pass [`Project::name_problems`]; `None` otherwise (the caller parses the YAML instead).
pub fn decode(text: &str, key: &str) -> Option<Project> {
    let (header, body) = text.split_once('\n')?;
    if header != format!("{MAGIC} {key}") || body.is_empty() {
        return None;
    }
    let entry: EntryIn = serde_json::from_str(body).ok()?;
    let project = Project { config: entry.config, regions: entry.regions };
    project.name_problems().is_empty().then_some(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of field the config has, set and unset.
    const CFG: &str = "baseDomain: w.example\nenvironments:\n  prd:\n    provider: {kind: dir, path: ../p}\n  stg:\n    provider:\n      kind: etcd\n      endpoints: [https://e1:2379, https://e2:2379]\n      prefix: /inforge/stg\n      caFile: ca.pem\n      certFile: c.pem\n      keyFile: k.pem\n  dev:\n    provider: {kind: etcd, endpoints: ['http://127.0.0.1:2379'], prefix: /d}\nservices:\n  api: {pki: mesh, scope: global, dnsNames: [api.internal, a.w.example], reload: 'systemctl reload api', leafTtl: 48h}\n  web: {pki: mesh, scope: regional, regions: [us-east-1]}\n  none: {pki: mesh, scope: regional, regions: []}\n  cron: {}\n";
    const REGIONS: &str = "regions: [us-east-1, eu-west-1]\n";

    #[test]
    fn an_entry_gives_back_exactly_what_the_yaml_parse_gave() {
        let parsed = Project::parse(CFG, Some(REGIONS)).unwrap();
        let k = key("build-1", &digest(CFG, Some(REGIONS)));
        let entry = encode(&parsed, &k);
        let back = decode(&entry, &k).expect("an intact entry decodes");
        assert_eq!(format!("{back:?}"), format!("{parsed:?}"));
        // `regions: []` stays an explicit empty list (no leaf), distinct from absent (all).
        assert_eq!(back.config.services["none"].regions, Some(vec![]));
        assert_eq!(back.config.services["cron"].regions, None);
        // And the entry of the decoded project is the same entry.
        assert_eq!(encode(&back, &k), entry);
    }

    #[test]
    fn the_key_covers_the_build_and_both_files() {
        let d = digest(CFG, Some(REGIONS));
        let k = key("b", &d);
        assert_eq!((k.len(), d.len()), (64, 64));
        let changed = CFG.replace("48h", "49h");
        for other in [
            key("c", &d),
            key("b", &digest(&changed, Some(REGIONS))),
            key("b", &digest(CFG, Some("regions: [us-east-1]\n"))),
            key("b", &digest(CFG, None)),
            key("b", &digest(CFG, Some(""))),
            // Moving bytes between the files is another key, thanks to the length prefixes.
            key("b", &digest(&format!("{CFG}regions"), Some(REGIONS.trim_start_matches("regions")))),
        ] {
            assert_ne!(other, k);
        }
        assert_ne!(digest("x", None), digest("x", Some("")));
        assert_ne!(key("b", &d), d, "the disk key is not the memory key");
    }

    #[test]
    fn a_damaged_foreign_or_edited_entry_is_refused() {
        let parsed = Project::parse(CFG, Some(REGIONS)).unwrap();
        let k = key("b", &digest(CFG, Some(REGIONS)));
        let entry = encode(&parsed, &k);
        let other = key("b2", &digest(CFG, Some(REGIONS)));
        assert!(decode(&entry, &other).is_none(), "another key's entry");
        assert!(decode(&entry[..entry.len() / 2], &k).is_none(), "truncated");
        assert!(decode("", &k).is_none());
        assert!(decode(&format!("{MAGIC} {k}\n"), &k).is_none(), "header only");
        assert!(decode(&entry.replace("inforge-config-cache/1", "inforge-config-cache/0"), &k).is_none());
        // Unknown fields are refused here as in the YAML.
        assert!(decode(&entry.replace("\"pki\":\"mesh\"", "\"pki\":\"mesh\",\"scpoe\":\"global\""), &k).is_none());
        // A name the YAML parse would refuse is refused on the way in too.
        assert!(decode(&entry.replace("\"api\"", "\"API!\""), &k).is_none());
        assert!(decode(&entry.replace("\"us-east-1\",\"eu-west-1\"", "\"global\""), &k).is_none());
    }
}
