//! One function per command: load, call the core, write, report. No PKI decisions here.

use std::path::Path;

use inforge_core::custody::{parse_recipient, Custodian, Identity};
use inforge_core::mesh;
use inforge_core::pki::{self, Effects, PkiError};
use inforge_core::store::{store_path, Store, Topology};

use crate::error::CliError;
use crate::provider;
use crate::shell::{self, AgeSealer, Repo};
use crate::{
    AddArgs, BundleArgs, InitArgs, IntermediateArgs, LsArgs, RecoverArgs, RenewArgs, RotateArgs, ValidateArgs,
};

fn core<T>(r: Result<T, impl Into<inforge_core::Error>>) -> Result<T, CliError> {
    r.map_err(|e| CliError::Core(e.into()))
}

pub fn init(dir: &Path, a: InitArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    repo.env(&a.env)?;
    let path = repo.store_file(&a.env);
    if path.exists() {
        return core(Err(PkiError::StoreExists { path: store_path(&a.env) }));
    }
    let secrets_rel = format!("resources/{}/secrets.enc.yaml", a.env);
    let recipient = if let Some(r) = &a.recipient {
        core(parse_recipient("--recipient", r))?
    } else {
        let secrets = repo.root.join(&secrets_rel);
        let from_secrets = if secrets.is_file() {
            let text = std::fs::read_to_string(&secrets).map_err(|e| CliError::io("read", &secrets, e))?;
            core(inforge_core::config::secret_store_recipient(&secrets_rel, &text))?
        } else {
            None
        };
        match from_secrets {
            Some(r) => r,
            None => match std::env::var(Custodian::Ci.env_var()) {
                Ok(_) => shell::identity(Custodian::Ci)?.recipient(),
                Err(_) => return core(Err(PkiError::NoRecipient { secrets_path: secrets_rel })),
            },
        }
    };
    let root = Identity::from_age(age::x25519::Identity::generate(), Custodian::OfflineRoot);
    let store = Store::new(root.recipient(), recipient.clone());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| CliError::io("create", parent, e))?;
    }
    // Print the identity first: if stdout is closed, fail before the store exists, so the
    // only copy of the root identity can never be lost.
    if !shell::stdout_keeps_output() {
        return Err(CliError::IdentityWouldBeLost);
    }
    shell::out(&format!("{}\n", &*root.reveal()))?;
    repo.save_store(&a.env, &store, None)?;
    eprintln!("created {} (CI recipient {recipient})", store_path(&a.env));
    eprintln!("the line on stdout is the OFFLINE ROOT IDENTITY; it is shown only this once:");
    eprintln!("  - store it offline (password manager / hardware token), never in CI or git;");
    eprintln!("  - export it as INFORGE_PKI_ROOT_KEY only for `intermediate`, `rotate --intermediate|--root`");
    eprintln!("    and `recover-intermediate`, on an operator workstation.");
    eprintln!("next: inforge pki add {} <name> --topology two-tier", a.env);
    Ok(())
}

pub fn add(dir: &Path, a: AddArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (mut store, text) = repo.load_store(&a.env)?;
    let topology = if a.topology == "root-only" { Topology::RootOnly } else { Topology::TwoTier };
    let algorithm = core(a.algorithm.parse::<inforge_core::keys::Algorithm>())?;
    let now = shell::now()?;
    core(pki::add_pki(
        &mut store,
        &a.env,
        &a.name,
        topology,
        algorithm,
        &mut Effects { now, rng: &mut shell::rng(), sealer: &mut AgeSealer },
    ))?;
    repo.save_store(&a.env, &store, Some(&text))?;
    let custody = match topology {
        Topology::TwoTier => "cold: its key is sealed to the offline rootRecipient",
        Topology::RootOnly => "online: its key is sealed to the CI recipient for the issuer",
    };
    eprintln!("added {} PKI {:?} ({algorithm}) to {}; root is {custody}", topology.name(), a.name, store_path(&a.env));
    if topology == Topology::TwoTier {
        eprintln!("next (offline): INFORGE_PKI_ROOT_KEY=… inforge pki intermediate {} {} global", a.env, a.name);
    }
    Ok(())
}

pub fn intermediate(dir: &Path, a: IntermediateArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (mut store, text) = repo.load_store(&a.env)?;
    core(pki::check_new_intermediate(&store, &repo.project, &a.name, &a.scope))?;
    let root_id = shell::identity(Custodian::OfflineRoot)?;
    let now = shell::now()?;
    core(pki::add_intermediate(
        &mut store,
        &repo.project,
        &a.env,
        &a.name,
        &a.scope,
        &root_id,
        &mut Effects { now, rng: &mut shell::rng(), sealer: &mut AgeSealer },
    ))?;
    repo.save_store(&a.env, &store, Some(&text))?;
    eprintln!(
        "minted intermediate {:?} for {:?}, signed by the cold root; commit {}",
        a.scope,
        a.name,
        store_path(&a.env)
    );
    Ok(())
}

pub fn ls(dir: &Path, a: LsArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (store, _) = repo.load_store(&a.env)?;
    let now = shell::now()?;
    let listing = core(pki::listing(&store, &a.env, now))?;
    if a.json {
        shell::out(&format!("{}\n", serde_json::to_string_pretty(&listing).unwrap_or_default()))?;
    } else {
        shell::out(&listing.to_string())?;
    }
    Ok(())
}

/// The environment's dir provider root; it must already exist (renew adopts, never creates).
fn provider_root(repo: &Repo, env: &str) -> Result<std::path::PathBuf, CliError> {
    use inforge_core::config::Provider;
    let root = match &core(repo.project.environment(env))?.provider {
        Provider::Dir { path } => repo.root.join(path),
        Provider::Etcd { .. } => return Err(CliError::ProviderUnsupported { kind: "etcd" }),
    };
    if !root.is_dir() {
        return Err(CliError::ProviderMissing { path: root });
    }
    Ok(root)
}

pub fn renew(dir: &Path, a: RenewArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (store, _) = repo.load_store(&a.env)?;
    if a.bundles_only {
        return refresh_bundles(&repo, &store, &a.env, a.service.as_deref());
    }
    let provider = provider_root(&repo, &a.env)?;
    let filter = mesh::Filter::service(a.service.as_deref());
    let targets = core(mesh::plan(&repo.project, &store, &a.env, &filter))?;
    let ci = shell::identity(Custodian::Ci)?;
    let now = shell::now()?;
    mint_and_write(&repo, &store, &a.env, &targets, &ci, &provider, now, a.json)
}

/// The minting core shared by renew, rotate --leaf and recover-intermediate: open exactly the
/// intermediates the targets need, mint across cores, replace each service+scope as a set.
#[allow(clippy::too_many_arguments)]
fn mint_and_write(
    repo: &Repo,
    store: &inforge_core::store::Store,
    env: &str,
    targets: &[mesh::LeafTarget],
    ci: &inforge_core::custody::Identity,
    provider_root: &Path,
    now: time::OffsetDateTime,
    json: bool,
) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let issuers = core(mesh::open_issuers(store, &repo.project, targets, ci, now))?;
    let bar = progress(targets.len() as u64 * 2);
    let minted = mint_parallel(store, targets, &issuers, now, &bar)?;
    let generation = shell::unique_suffix();
    let mut written = Vec::new();
    for m in &minted {
        written.push(provider::write_leaf(provider_root, m, &generation)?);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let services: std::collections::BTreeSet<&str> = minted.iter().map(|m| m.target.service.as_str()).collect();
    let elapsed = started.elapsed();
    if json {
        let leaves: Vec<serde_json::Value> = minted
            .iter()
            .zip(&written)
            .map(|(m, w)| {
                serde_json::json!({
                    "service": m.target.service,
                    "pki": m.target.pki,
                    "scope": m.target.scope,
                    "spiffeId": m.target.spiffe_id,
                    "serial": m.leaf.serial_hex(),
                    "notAfter": inforge_core::time::format_rfc3339(m.leaf.not_after()),
                    "dir": w.dir.display().to_string(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "env": env,
            "provider": { "kind": "dir", "path": provider_root.display().to_string() },
            "leaves": leaves,
            "services": services.len(),
            "elapsedMs": elapsed.as_millis() as u64,
        });
        shell::out(&format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()))?;
    } else {
        let mut text = String::new();
        for (m, w) in minted.iter().zip(&written) {
            text.push_str(&format!(
                "{:<10} {:<10} {:<48} until {}  → {}/{{cert,key,bundle}}.pem\n",
                m.target.service,
                m.target.scope,
                m.target.spiffe_id,
                inforge_core::time::format_rfc3339(m.leaf.not_after()),
                w.dir.display()
            ));
        }
        shell::out(&text)?;
    }
    eprintln!(
        "renewed {} leaves for {} services in {} ms → {} (keys 0600)",
        minted.len(),
        services.len(),
        elapsed.as_millis(),
        provider_root.display()
    );
    Ok(())
}

/// `renew --bundles-only`: rewrites every bundle.pem from the store, keeping each current leaf
/// and key. Credential-free (bundles are public). Step one of a planned intermediate roll.
fn refresh_bundles(
    repo: &Repo,
    store: &inforge_core::store::Store,
    env: &str,
    service: Option<&str>,
) -> Result<(), CliError> {
    let provider = provider_root(repo, env)?;
    let targets = core(mesh::plan(&repo.project, store, env, &mesh::Filter::service(service)))?;
    let generation = shell::unique_suffix();
    let (mut done, mut skipped) = (0, 0);
    for t in &targets {
        let bundle = mesh::pem_bundle(&core(mesh::scope_bundle(store, &repo.project, &t.pki, &t.scope))?);
        match provider::read_leaf(&provider, &t.service, &t.scope)? {
            Some((cert, key)) => {
                provider::write_set(&provider, &t.service, &t.scope, [&cert, &key, &bundle], &generation)?;
                done += 1;
            }
            None => {
                eprintln!("note: {} {} has no leaf yet; run `inforge pki renew {env}`", t.service, t.scope);
                skipped += 1;
            }
        }
    }
    eprintln!("refreshed {done} bundles (leaves and keys unchanged), {skipped} skipped → {}", provider.display());
    Ok(())
}

fn progress(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("minting + writing leaves");
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Mints every target, spread across the machine's cores; each thread draws from the OS RNG.
fn mint_parallel(
    store: &inforge_core::store::Store,
    targets: &[mesh::LeafTarget],
    issuers: &std::collections::BTreeMap<(String, String), mesh::ScopeIssuer>,
    now: time::OffsetDateTime,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<mesh::Minted>, CliError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(targets.len());
    let chunk = targets.len().div_ceil(threads);
    let results: Vec<Result<Vec<mesh::Minted>, inforge_core::Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut rng = shell::rng();
                    part.iter()
                        .map(|t| {
                            let alg = pki::get_pki(store, &t.pki)?.algorithm;
                            let issuer = &issuers[&(t.pki.clone(), t.scope.clone())];
                            let m = mesh::mint(t, issuer, alg, None, now, &mut rng);
                            bar.inc(1);
                            m
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new()))).collect()
    });
    let mut out = Vec::with_capacity(targets.len());
    for r in results {
        out.extend(core(r)?);
    }
    if out.len() != targets.len() {
        return Err(CliError::Internal("a minting thread stopped early".into()));
    }
    Ok(out)
}

pub fn bundle(dir: &Path, a: BundleArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (store, _) = repo.load_store(&a.env)?;
    let certs = match &a.scope {
        Some(scope) => core(mesh::scope_bundle(&store, &repo.project, &a.name, scope))?,
        None => core(mesh::root_bundle(&store, &a.name))?,
    };
    shell::out(&mesh::pem_bundle(&certs))?;
    Ok(())
}

pub fn validate(dir: &Path, a: ValidateArgs) -> Result<(), CliError> {
    let root = dir;
    let cfg = root.join("inforge.yaml");
    if !cfg.is_file() {
        return Err(CliError::NotARepo { dir: root.to_path_buf() });
    }
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| CliError::io("read", p, e));
    let inforge_yaml = read(&cfg)?;
    let regions_path = root.join("regions.yaml");
    let regions = if regions_path.is_file() { Some(read(&regions_path)?) } else { None };
    let store_text = if inforge_core::names::check_segment("environment", &a.env).is_ok() {
        let p = root.join(store_path(&a.env));
        if p.is_file() {
            Some(read(&p)?)
        } else {
            None
        }
    } else {
        None
    };
    let now = shell::now()?;
    let report =
        inforge_core::validate::validate_texts(&inforge_yaml, regions.as_deref(), store_text.as_deref(), &a.env, now);
    let format = if a.json { "json" } else { a.format.as_str() };
    match format {
        "json" => shell::out(&format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default()))?,
        "sarif" => shell::out(&format!("{}\n", serde_json::to_string_pretty(&report.to_sarif()).unwrap_or_default()))?,
        _ => shell::out(&report.to_string())?,
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(CliError::ValidationFailed)
    }
}

pub fn rotate(dir: &Path, a: RotateArgs) -> Result<(), CliError> {
    use inforge_core::rotate;
    let repo = Repo::open(dir)?;
    let (mut store, text) = repo.load_store(&a.env)?;
    if a.leaf {
        // Leaf rotation is re-minting: the same core as renew, for this mesh's services.
        pki::get_pki(&store, &a.name).map_err(|e| CliError::Core(e.into()))?;
        let provider = provider_root(&repo, &a.env)?;
        let filter = mesh::Filter { service: a.service.as_deref(), pki: Some(&a.name), scopes: None };
        let targets = core(mesh::plan(&repo.project, &store, &a.env, &filter))?;
        let ci = shell::identity(Custodian::Ci)?;
        let now = shell::now()?;
        return mint_and_write(&repo, &store, &a.env, &targets, &ci, &provider, now, false);
    }
    if let Some(scope) = &a.intermediate {
        core(rotate::check_intermediate_rotation(&store, &repo.project, &a.name, scope))?;
        let root_id = shell::identity(Custodian::OfflineRoot)?;
        let now = shell::now()?;
        core(rotate::rotate_intermediate(
            &mut store,
            &repo.project,
            &a.env,
            &a.name,
            scope,
            &root_id,
            &mut Effects { now, rng: &mut shell::rng(), sealer: &mut AgeSealer },
        ))?;
        repo.save_store(&a.env, &store, Some(&text))?;
        eprintln!("rotated the {scope:?} intermediate of {:?}: fresh key from the cold root; the old one stays in its bundles", a.name);
        eprintln!("next (CI posture, no downtime):");
        eprintln!(
            "  1. commit {}; run `inforge pki renew {} --bundles-only` so every host trusts old and new",
            store_path(&a.env),
            a.env
        );
        eprintln!(
            "  2. after hosts converged (one renew-timer interval), run `inforge pki renew {}` for new leaves",
            a.env
        );
        return Ok(());
    }
    // --root
    if a.finalize {
        let operator = shell::identity(Custodian::OfflineRoot)?;
        let now = shell::now()?;
        let done = core(rotate::finalize_root(&mut store, &a.name, &operator, a.force, now))?;
        repo.save_store(&a.env, &store, Some(&text))?;
        eprintln!(
            "finalized the root overlap of {:?}: dropped {} previous root(s) and {} re-signed intermediate certificate(s); commit {}",
            a.name,
            done.roots,
            done.intermediates,
            store_path(&a.env)
        );
        eprintln!("next: `inforge pki renew {}` so cert.pem chains carry only the new root's intermediates", a.env);
        return Ok(());
    }
    core(rotate::check_root_rotation(&store, &a.name))?;
    let operator = shell::identity(Custodian::OfflineRoot)?;
    let now = shell::now()?;
    core(rotate::rotate_root(
        &mut store,
        &a.env,
        &a.name,
        &operator,
        a.min_overlap_days,
        &mut Effects { now, rng: &mut shell::rng(), sealer: &mut AgeSealer },
    ))?;
    repo.save_store(&a.env, &store, Some(&text))?;
    let allowed =
        core(rotate::finalize_allowed_at(&store, &a.name))?.map(inforge_core::time::format_rfc3339).unwrap_or_default();
    eprintln!("started a dual-root overlap for {:?}: new root, every intermediate re-signed keeping its key", a.name);
    eprintln!("next:");
    eprintln!(
        "  1. commit {}; hand `inforge pki bundle {} {} --roots` (both roots) to root-anchoring consumers",
        store_path(&a.env),
        a.env,
        a.name
    );
    eprintln!("  2. run `inforge pki renew {}` (mesh services are undisturbed: same intermediate keys)", a.env);
    eprintln!("  3. from {allowed}: inforge pki rotate {} {} --root --finalize", a.env, a.name);
    Ok(())
}

pub fn recover_intermediate(dir: &Path, a: RecoverArgs) -> Result<(), CliError> {
    use inforge_core::rotate;
    let repo = Repo::open(dir)?;
    let (mut store, text) = repo.load_store(&a.env)?;
    core(rotate::check_intermediate_rotation(&store, &repo.project, &a.name, &a.scope))?;
    let provider = provider_root(&repo, &a.env)?;
    // Both identities up front: the cold root signs the fresh intermediate, CI re-mints leaves.
    let root_id = shell::identity(Custodian::OfflineRoot)?;
    let ci = shell::identity(Custodian::Ci)?;
    core(ci.expect_recipient(&store.recipient))?;
    let now = shell::now()?;
    let revoked = core(rotate::recover_intermediate(
        &mut store,
        &repo.project,
        &a.env,
        &a.name,
        &a.scope,
        &root_id,
        &mut Effects { now, rng: &mut shell::rng(), sealer: &mut AgeSealer },
    ))?;
    let scopes = mesh::trusted_scopes(&repo.project, &a.scope);
    let filter = mesh::Filter { service: None, pki: Some(&a.name), scopes: Some(&scopes) };
    let targets = core(mesh::plan(&repo.project, &store, &a.env, &filter))?;
    // Commit point: the store first (atomic); then the provider.
    repo.save_store(&a.env, &store, Some(&text))?;
    for r in &revoked {
        eprintln!("revoked {} ({}) at {}", r.fingerprint, r.subject, r.revoked_at);
    }
    if let Err(e) = mint_and_write(&repo, &store, &a.env, &targets, &ci, &provider, now, false) {
        eprintln!("the store is recovered, but re-minting leaves failed: run `inforge pki renew {}` now", a.env);
        return Err(e);
    }
    eprintln!(
        "recovered {:?} {:?}: fresh key, no overlap; leaves re-minted in scopes {}",
        a.name,
        a.scope,
        scopes.join(", ")
    );
    eprintln!(
        "now: commit {} and re-project every host at once (docs/runbooks/recover-intermediate.md)",
        store_path(&a.env)
    );
    Ok(())
}
