//! Root rotation with no broken window (overlap → switch → finalize), proved with real
//! handshakes between root-anchored consumers — trusting (a) only the old root, (b) both,
//! (c) only the new root — and mesh hosts holding the chain of every phase, with OpenSSL
//! (s_server/s_client: first candidate issuer, no backtracking) and rustls. Plus
//! `pki status`: each planted problem found, one test each.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::support::*;
use crate::tls::epoch;

const T0: &str = "2027-01-01T00:00:00Z";
const T_SWITCH: &str = "2027-02-01T00:00:00Z";
const T_FINAL: &str = "2027-02-09T00:00:00Z";

fn provider(r: &Repo) -> PathBuf {
    r.tmp.path().join("provider-prd")
}

/// A copy of api/global's set as the provider holds it now (a host that projected it).
fn snapshot_set(r: &Repo, name: &str) -> PathBuf {
    let src = std::fs::canonicalize(provider(r).join("api/mtls/global")).unwrap();
    let d = r.tmp.path().join("sets").join(name);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["cert.pem", "key.pem", "bundle.pem"] {
        std::fs::copy(src.join(f), d.join(f)).unwrap();
    }
    d
}

/// A root-anchored consumer (OpenSSL `s_client -CAfile roots`, no partial chains) connecting
/// to a mesh host serving `cert.pem` in its order (`s_server -cert_chain`, no rebuilding).
fn openssl_consumer(at: &str, host: &Path, roots: &Path) -> (bool, String) {
    let f = |n: &str| host.join(n).display().to_string();
    let server = ["-cert".into(), f("cert.pem"), "-cert_chain".into(), f("cert.pem"), "-key".into(), f("key.pem")];
    let client = [
        "-CAfile".into(),
        roots.display().to_string(),
        "-verify_return_error".into(),
        "-attime".into(),
        epoch(at).to_string(),
    ];
    let run = crate::tls::openssl_pair(&server, &client);
    (run.client_ok, run.transcript)
}

/// The same consumer with rustls (webpki path building), in memory, checking `api.internal`.
fn rustls_consumer(at: &str, host: &Path, roots: &Path) -> Result<(), rustls::Error> {
    let p = Arc::new(rustls::crypto::ring::default_provider());
    let time = Arc::new(crate::tls::At(UnixTime::since_unix_epoch(std::time::Duration::from_secs(epoch(at)))));
    let mut store = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(roots).unwrap() {
        store.add(c.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(host.join("cert.pem")).unwrap().map(|c| c.unwrap()).collect();
    let key = PrivateKeyDer::from_pem_file(host.join("key.pem")).unwrap();
    let scfg = rustls::ServerConfig::builder_with_details(p.clone(), time.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let ccfg = rustls::ClientConfig::builder_with_details(p, time)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let mut c = rustls::ClientConnection::new(Arc::new(ccfg), ServerName::try_from("api.internal").unwrap()).unwrap();
    let mut s = rustls::ServerConnection::new(Arc::new(scfg)).unwrap();
    crate::tls::drive(&mut c, &mut s)
}

#[test]
fn no_promised_pair_breaks_in_any_phase_and_the_two_phase_flow_s_failing_pair_does() {
    let mut r = Repo::initialized_at(Some(T0));
    let root = r.root.clone().unwrap();
    let op = [("INFORGE_PKI_ROOT_KEY", root.as_str())];
    let d = r.tmp.path().to_path_buf();
    let root_pem = |r: &Repo| r.cmd(&["pki", "bundle", "prd", "wardnet-mesh", "--roots"], &[]).ok().stdout;
    write(&d, "old.pem", &root_pem(&r));
    r.run(&["pki", "renew", "prd"]).ok();
    let stable_old = snapshot_set(&r, "stable-old");

    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root"], &op).ok();
    write(&d, "both.pem", &root_pem(&r));
    let both = std::fs::read_to_string(d.join("both.pem")).unwrap();
    let old = std::fs::read_to_string(d.join("old.pem")).unwrap();
    write(&d, "new.pem", &both.replace(&old, ""));
    r.run(&["pki", "renew", "prd"]).ok();
    let overlap = snapshot_set(&r, "overlap");
    // A recovery during the overlap (global, api's scope): the fresh key gets a twin from the
    // previous root, so the overlap's chain order holds and old-root consumers keep verifying
    // the scope; the finalize below then passes its fleet gate without --force.
    r.cmd(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "global"], &op).ok();
    let recovered = snapshot_set(&r, "overlap-recovered");

    r.now = Some(T_SWITCH.into());
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root", "--switch"], &[]).ok();
    r.run(&["pki", "renew", "prd"]).ok();
    let switched = snapshot_set(&r, "switched");
    // And one in the switched phase: the fresh key's chain puts the new root's path first.
    r.cmd(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "global"], &op).ok();
    let switched_recovered = snapshot_set(&r, "switched-recovered");

    r.now = Some(T_FINAL.into());
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize"], &op).ok();
    assert_eq!(root_pem(&r), std::fs::read_to_string(d.join("new.pem")).unwrap(), "finalize leaves the new root alone");
    r.run(&["pki", "renew", "prd"]).ok();
    let stable_new = snapshot_set(&r, "stable-new");

    // (phase while the chain is served, the chain, the consumer, promised?)
    let (a, b, c) = (d.join("old.pem"), d.join("both.pem"), d.join("new.pem"));
    let cases: Vec<(&str, &str, &Path, &Path, &str, bool)> = vec![
        // Before the rotation: consumers trust the old root.
        ("stable", T0, &stable_old, &a, "old", true),
        // Overlap: consumers move from old to both; the previous root's path is first.
        ("overlap", T0, &overlap, &a, "old", true),
        ("overlap", T0, &overlap, &b, "both", true),
        ("overlap", T0, &stable_old, &b, "both", true),
        ("overlap, after a recovery", T0, &recovered, &a, "old", true),
        ("overlap, after a recovery", T0, &recovered, &b, "both", true),
        // Switched: consumers have both (the switch waited for it) and may drop the old root;
        // hosts not yet re-projected still serve the overlap chain, which both-root
        // consumers accept.
        ("switched", T_SWITCH, &switched, &b, "both", true),
        ("switched", T_SWITCH, &switched, &c, "new", true),
        ("switched, after a recovery", T_SWITCH, &switched_recovered, &b, "both", true),
        ("switched, after a recovery", T_SWITCH, &switched_recovered, &c, "new", true),
        ("switched", T_SWITCH, &overlap, &b, "both", true),
        // Finalized (the fleet gate saw every set switched): new-root consumers accept the
        // switched chains still held and the new stable ones.
        ("finalized", T_FINAL, &switched, &c, "new", true),
        ("finalized", T_FINAL, &stable_new, &c, "new", true),
        ("finalized", T_FINAL, &stable_new, &b, "both", true),
    ];
    for (phase, at, host, roots, who, _) in &cases {
        let (ok, text) = openssl_consumer(at, host, roots);
        assert!(ok, "{phase}: OpenSSL consumer trusting {who} root(s) vs {}:\n{text}", host.display());
        rustls_consumer(at, host, roots).unwrap_or_else(|e| panic!("{phase}: rustls consumer trusting {who}: {e}"));
    }
    // Negative control — the old two-phase flow (rotate → finalize): a consumer handed the
    // new root bundle after finalize, talking to a host still on an overlap-era chain, is
    // rejected by OpenSSL (first candidate issuer is the previous root's twin). The switch and
    // the fleet gate exist to make this pair impossible; rustls backtracks and accepts it.
    let (ok, text) = openssl_consumer(T_FINAL, &overlap, &c);
    assert!(!ok, "the failing pair of the two-phase flow must fail with OpenSSL:\n{text}");
    assert!(text.contains("unable to get local issuer certificate") || text.contains("verify error"), "{text}");
    assert!(rustls_consumer(T_FINAL, &overlap, &c).is_ok());
    // And the pair the switch gives up on purpose (a consumer still on the old root only,
    // after the documented minimum): OpenSSL takes the new root's path first and fails.
    assert!(!openssl_consumer(T_SWITCH, &switched, &a).0);
}

/// A repo with every set renewed at T0, and the provider path.
fn renewed() -> (Repo, PathBuf) {
    let r = Repo::initialized_at(Some(T0));
    r.run(&["pki", "renew", "prd"]).ok();
    let p = provider(&r);
    (r, p)
}

fn status(r: &Repo, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["pki", "status", "prd", "--json"];
    args.extend_from_slice(extra);
    let run = r.cmd(&args, &[]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    (run.code, serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout)))
}

fn problems_of(doc: &serde_json::Value, service: &str, scope: &str) -> Vec<String> {
    let set = doc["sets"].as_array().unwrap().iter().find(|s| s["service"] == service && s["scope"] == scope).unwrap();
    set["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap().to_string()).collect()
}

fn set_file(p: &Path, svc: &str, scope: &str, file: &str) -> PathBuf {
    std::fs::canonicalize(p.join(svc).join("mtls").join(scope)).unwrap().join(file)
}

#[test]
fn status_is_clean_after_renew_and_documents_each_set() {
    let (r, _) = renewed();
    let (code, doc) = status(&r, &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["sets"].as_array().unwrap().len(), 5);
    assert_eq!(doc["ok"], true);
    let api = &doc["sets"][0];
    assert_eq!(
        (api["service"].as_str(), api["issuerState"].as_str(), api["chainPhase"].as_str()),
        (Some("api"), Some("current"), Some("stable"))
    );
    assert!(api["serial"].as_str().is_some_and(|s| s.len() >= 16) && api["daysLeft"].as_i64() == Some(90), "{api}");
    let text = r.cmd(&["pki", "status", "prd"], &[]).ok().stdout;
    assert!(text.contains("wardnet-mesh: root phase stable") && text.contains("0 of 5 sets with problems"), "{text}");
}

#[test]
fn status_finds_a_missing_set() {
    let (r, p) = renewed();
    std::fs::remove_file(p.join("billing/mtls/global")).unwrap();
    let (code, doc) = status(&r, &[]);
    assert_eq!((code, problems_of(&doc, "billing", "global")), (1, vec!["set-missing".to_string()]));
    assert_eq!(doc["problemSets"], 1);
}

#[test]
fn status_finds_a_key_that_is_not_the_leaf_s() {
    let (r, p) = renewed();
    let other = std::fs::read_to_string(set_file(&p, "api", "global", "key.pem")).unwrap();
    std::fs::write(set_file(&p, "billing", "global", "key.pem"), other).unwrap();
    let (code, doc) = status(&r, &[]);
    assert_eq!((code, problems_of(&doc, "billing", "global")), (1, vec!["set-key-mismatch".to_string()]));
}

#[test]
fn status_finds_leaves_expiring_within_the_horizon_and_expired() {
    let (mut r, _) = renewed();
    assert_eq!(status(&r, &["--fail-within", "30d"]).0, 0);
    let (code, doc) = status(&r, &["--fail-within", "95d"]);
    assert_eq!((code, problems_of(&doc, "web", "eu-west-1")), (1, vec!["leaf-expiring".to_string()]));
    r.now = Some("2027-04-15T00:00:00Z".into());
    let (_, doc) = status(&r, &[]);
    assert!(problems_of(&doc, "api", "global").contains(&"leaf-expired".to_string()), "{doc}");
    r.cmd(&["pki", "status", "prd", "--fail-within", "soon"], &[]).fails("duration-invalid", "30d");
}

#[test]
fn status_finds_a_leaf_from_a_rotated_away_intermediate_and_a_stale_bundle() {
    let (r, _) = renewed();
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1"]).ok();
    let (code, doc) = status(&r, &[]);
    assert_eq!(code, 1);
    let web = problems_of(&doc, "web", "us-east-1");
    assert!(web.contains(&"leaf-rotated-issuer".to_string()) && web.contains(&"bundle-stale".to_string()), "{web:?}");
    // The global scope's bundle carries us-east-1's intermediates too: stale, leaf fine.
    assert_eq!(problems_of(&doc, "api", "global"), vec!["bundle-stale".to_string()]);
    r.run(&["pki", "renew", "prd"]).ok();
    assert_eq!(status(&r, &[]).0, 0);
}

#[test]
fn status_finds_a_leaf_from_a_revoked_intermediate() {
    let (r, p) = renewed();
    let before = std::fs::read_to_string(set_file(&p, "web", "eu-west-1", "cert.pem")).unwrap();
    let (cert, key) = (before, std::fs::read_to_string(set_file(&p, "web", "eu-west-1", "key.pem")).unwrap());
    r.run(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "eu-west-1"]).ok();
    // A host (or a provider restored from backup) still holding the compromised leaf.
    std::fs::write(set_file(&p, "web", "eu-west-1", "cert.pem"), cert).unwrap();
    std::fs::write(set_file(&p, "web", "eu-west-1", "key.pem"), key).unwrap();
    let (code, doc) = status(&r, &[]);
    assert_eq!(code, 1);
    assert!(problems_of(&doc, "web", "eu-west-1").contains(&"leaf-revoked-issuer".to_string()), "{doc}");
}

#[test]
fn status_finds_a_chain_from_before_the_current_root_phase() {
    let (mut r, _) = renewed();
    let root = r.root.clone().unwrap();
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root"], &[("INFORGE_PKI_ROOT_KEY", root.as_str())]).ok();
    // Not renewed: every chain is still the pre-rotation one (the intermediate's old-root twin alone).
    let (code, doc) = status(&r, &[]);
    assert_eq!(code, 1);
    // (The bundle changed too: it now carries the intermediates' twins.)
    assert_eq!(
        problems_of(&doc, "api", "global"),
        vec!["chain-phase-stale".to_string(), "bundle-stale".to_string()],
        "{doc}"
    );
    r.run(&["pki", "renew", "prd"]).ok();
    let (code, doc) = status(&r, &[]);
    assert_eq!((code, doc["sets"][0]["chainPhase"].as_str()), (0, Some("overlap")), "{doc}");
    r.now = Some(T_SWITCH.into());
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root", "--switch"], &[]).ok();
    let (code, doc) = status(&r, &[]);
    assert_eq!(code, 1);
    assert!(problems_of(&doc, "api", "global").contains(&"chain-phase-stale".to_string()), "{doc}");
    r.run(&["pki", "renew", "prd", "--service", "api"]).ok();
    let (_, doc) = status(&r, &[]);
    assert!(problems_of(&doc, "api", "global").is_empty(), "{doc}");
    assert_eq!(doc["sets"][0]["chainPhase"], "switched");
}

/// The store as `--plan` names its parts: `pkis.<pki>.<field>`, and per scope for the
/// intermediates maps. Read as generic YAML (serde-saphyr), not through our store model.
fn store_parts(text: &str) -> std::collections::BTreeMap<String, String> {
    let v: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for (k, top) in v.as_object().unwrap() {
        if k != "pkis" {
            out.insert(k.clone(), top.to_string());
            continue;
        }
        for (pki, fields) in top.as_object().unwrap() {
            for (f, val) in fields.as_object().unwrap() {
                if f == "intermediates" || f == "previousIntermediates" {
                    for (scope, x) in val.as_object().unwrap() {
                        out.insert(format!("pkis.{pki}.{f}.{scope}"), x.to_string());
                    }
                } else {
                    out.insert(format!("pkis.{pki}.{f}"), val.to_string());
                }
            }
        }
    }
    out
}

fn store_diff(before: &str, after: &str) -> Vec<(String, String)> {
    let (b, a) = (store_parts(before), store_parts(after));
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| match (b.get(k), a.get(k)) {
            (None, Some(_)) => Some((k.clone(), "add".into())),
            (Some(_), None) => Some((k.clone(), "remove".into())),
            (Some(x), Some(y)) if x != y => Some((k.clone(), "replace".into())),
            _ => None,
        })
        .collect()
}

/// Every provider set: (service, scope) → (cert, key, bundle).
fn provider_sets(p: &Path) -> std::collections::BTreeMap<(String, String), (String, String, String)> {
    let mut out = std::collections::BTreeMap::new();
    for svc in std::fs::read_dir(p).unwrap().flatten() {
        let mtls = svc.path().join("mtls");
        let Ok(scopes) = std::fs::read_dir(&mtls) else { continue };
        for sc in scopes.flatten() {
            let name = sc.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let read = |f: &str| std::fs::read_to_string(sc.path().join(f)).unwrap();
            out.insert(
                (svc.file_name().to_string_lossy().into_owned(), name),
                (read("cert.pem"), read("key.pem"), read("bundle.pem")),
            );
        }
    }
    out
}

fn provider_diff(
    before: &std::collections::BTreeMap<(String, String), (String, String, String)>,
    after: &std::collections::BTreeMap<(String, String), (String, String, String)>,
) -> Vec<(String, String, String)> {
    after
        .iter()
        .filter_map(|(k, a)| match before.get(k) {
            Some(b) if b == a => None,
            Some(b) if b.0 == a.0 && b.1 == a.1 => Some((k.0.clone(), k.1.clone(), "bundle".into())),
            _ => Some((k.0.clone(), k.1.clone(), "set".into())),
        })
        .collect()
}

/// Runs `args --plan --json` with no identity, then the command with `env`, and checks the
/// plan named exactly the store parts and provider sets the command changed.
#[track_caller]
fn plan_then_do(r: &Repo, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut plan_args = args.to_vec();
    plan_args.extend(["--plan", "--json"]);
    let (store0, prov0) = (r.store_text(), provider_sets(&provider(r)));
    let run = r.cmd(&plan_args, &[]).ok();
    assert_eq!((r.store_text(), provider_sets(&provider(r))), (store0.clone(), prov0.clone()), "--plan wrote nothing");
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(plan["refused"].is_null(), "{plan}");
    r.cmd(args, env).ok();
    let planned_store: Vec<(String, String)> = plan["store"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["path"].as_str().unwrap().to_string(), c["change"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(planned_store, store_diff(&store0, &r.store_text()), "{args:?}: planned store changes vs done");
    let planned_provider: Vec<(String, String, String)> = plan["provider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["service"].as_str().unwrap().into(),
                c["scope"].as_str().unwrap().into(),
                c["what"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        planned_provider,
        provider_diff(&prov0, &provider_sets(&provider(r))),
        "{args:?}: planned provider writes vs done"
    );
    plan
}

#[test]
fn every_plan_matches_what_the_command_then_does() {
    let (mut r, _) = renewed();
    let root = r.root.clone().unwrap();
    let op = [("INFORGE_PKI_ROOT_KEY", root.as_str())];
    let ci = [("INFORGE_SECRETS_KEY", r.ci.as_str())];
    let m = ["pki", "rotate", "prd", "wardnet-mesh"];
    let with =
        |extra: &[&'static str]| -> Vec<&'static str> { m.iter().copied().chain(extra.iter().copied()).collect() };

    let p = plan_then_do(&r, &with(&["--leaf", "--service", "web"]), &ci);
    assert_eq!(p["needs"], "INFORGE_SECRETS_KEY");
    let p = plan_then_do(&r, &with(&["--intermediate", "us-east-1"]), &op);
    assert_eq!(p["bundles"], serde_json::json!(["global", "us-east-1"]));
    assert_eq!(p["next"][0]["who"], "ci");
    r.run(&["pki", "renew", "prd"]).ok();
    let p = plan_then_do(&r, &["pki", "recover-intermediate", "prd", "wardnet-mesh", "eu-west-1"], &op);
    assert_eq!(p["chains"], serde_json::json!(["eu-west-1"]));
    let p = plan_then_do(&r, &with(&["--root"]), &op);
    assert_eq!((p["phase"][0].as_str(), p["phase"][1].as_str()), (Some("stable"), Some("overlap")));
    assert_eq!(p["next"][2]["when"], "2027-01-31T00:00:00Z", "{p}");
    r.run(&["pki", "renew", "prd"]).ok();
    // A refused plan says why, with the command's own code, and the command agrees.
    let refused = r.cmd(&[&with(&["--root", "--finalize"])[..], &["--plan", "--json"]].concat(), &[]).ok();
    let refused: serde_json::Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(refused["refused"]["code"], "switch-missing");
    r.fails_unchanged(&with(&["--root", "--finalize"]), Some(&op), "switch-missing", "not switched");
    r.now = Some(T_SWITCH.into());
    let p = plan_then_do(&r, &with(&["--root", "--switch"]), &[]);
    assert!(p["needs"].is_null());
    assert_eq!(p["next"][2]["when"], "2027-02-08T00:00:00Z");
    r.now = Some(T_FINAL.into());
    // Before every set is switched the finalize plan is refused by the fleet gate, like the command.
    let refused = r.cmd(&[&with(&["--root", "--finalize"])[..], &["--plan", "--json"]].concat(), &[]).ok();
    let refused: serde_json::Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(refused["refused"]["code"], "fleet-not-switched");
    // A refused plan lists nothing that would happen (the same rule as the core's refusals).
    for part in ["store", "provider", "bundles", "chains", "next"] {
        assert_eq!(refused[part], serde_json::json!([]), "{part}: {refused}");
    }
    assert_eq!(refused["phase"][0], refused["phase"][1]);
    r.run(&["pki", "renew", "prd"]).ok();
    let p = plan_then_do(&r, &with(&["--root", "--finalize"]), &op);
    assert_eq!(p["phase"][1], "stable");
    // The text form says the same for humans.
    let text = r.cmd(&[&with(&["--intermediate", "global"])[..], &["--plan"]].concat(), &[]).ok().stdout;
    assert!(
        text.contains("plan: rotate --intermediate global wardnet-mesh (nothing written)")
            && text.contains("store: replace  pkis.wardnet-mesh.intermediates.global"),
        "{text}"
    );
}
