//! One function per command, each the same shape: read inputs (host) → one core operation →
//! write outputs (host) → render. No PKI decision is made here.

use std::path::Path;

use inforge_core::crypto::keys::Algorithm;
use inforge_core::error::{Op, Step};
use inforge_core::model::store::Topology;
use inforge_core::ops::{self, Changed, RenewRequest};
use inforge_host::backend::AWS_LC;
use inforge_host::keyring::HostKeyring;
use inforge_host::provider::{self, BundleOnly, Provider};
use inforge_host::repo::{Loaded, Repo};
use inforge_host::seal::AgeSealer;
use inforge_host::{clock, rng, HostError};

use crate::error::{Cli, CliError, CLI};
use crate::render;
use crate::{
    AddArgs, BundleArgs, BundleFormatArg, CustodyArgs, DiffFormat, HistoryArgs, InitArgs, InstallGitArgs,
    IntermediateArgs, LsArgs, ReasonArg, RecoverArgs, RekeyArgs, RenewArgs, RevokeLeafArgs, RootCrlArgs, RotateArgs,
    StatusArgs, StatusFormat, StoreDiffArgs, StoreMergeArgs, StoreShowArgs, UnitsArgs, ValidateArgs,
};

fn effects<'a>(
    now: time::OffsetDateTime,
    rng: &'a mut rand_core::OsRng,
    sealer: &'a mut AgeSealer,
) -> inforge_core::crypto::effects::Effects<'a, rand_core::OsRng> {
    inforge_core::crypto::effects::Effects { now, rng, sealer }
}

/// Loads an environment for a write: takes the store lock first, so the store read is the
/// one the write replaces.
fn load_for_write(repo: &Repo, env: &str) -> Result<(Loaded, inforge_host::lock::Lock), CliError> {
    let lock = repo.lock_store(env)?;
    Ok((repo.load(env)?, lock))
}

fn save<T>(
    repo: &Repo,
    loaded: &Loaded,
    changed: &Changed<T>,
    lock: &inforge_host::lock::Lock,
) -> Result<(), CliError> {
    repo.save_store(&loaded.env.name, &changed.store, loaded.store_text.as_deref(), lock)?;
    Ok(())
}

pub fn init(dir: &Path, a: InitArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (loaded, lock) = load_for_write(&repo, &a.env)?;
    let root = inforge_host::seal::generate_root_identity();
    let custody = match a.quorum {
        None => ops::RootCustody::Single(&root),
        Some(threshold) => ops::RootCustody::Quorum { identity: &root, threshold, custodians: &a.custodian },
    };
    let (mut r, mut s) = (rng(), AgeSealer);
    let changed = ops::init(
        &loaded.env,
        a.recipient.as_deref(),
        &mut HostKeyring::from_env(),
        custody,
        &mut effects(clock::now()?, &mut r, &mut s),
    )?;
    if a.quorum.is_none() {
        // Print the identity first: if stdout is closed, fail before the store exists, so the
        // only copy of the root identity can never be lost.
        if !render::stdout_keeps_output() {
            return Err(CliError::IdentityWouldBeLost);
        }
        render::out(&format!("{}\n", &*root.reveal()))?;
    }
    // Under a quorum the identity exists only as the sealed shares in the store.
    drop(root);
    save(&repo, &loaded, &changed, &lock)?;
    render::initialized(&changed.report, &loaded.env.project.meshes());
    Ok(())
}

pub fn add(dir: &Path, a: AddArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (loaded, lock) = load_for_write(&repo, &a.env)?;
    let topology = if a.topology == "root-only" { Topology::RootOnly } else { Topology::TwoTier };
    let algorithm: Algorithm = a.algorithm.parse()?;
    let (mut r, mut s) = (rng(), AgeSealer);
    let changed = ops::add(
        &loaded.env,
        &a.name,
        topology,
        algorithm,
        a.leaf_ttl.as_deref(),
        &mut effects(clock::now()?, &mut r, &mut s),
    )?;
    save(&repo, &loaded, &changed, &lock)?;
    render::added(&a.env, &changed.report, changed.store.root_quorum.is_some());
    Ok(())
}

pub fn intermediate(dir: &Path, a: IntermediateArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (loaded, lock) = load_for_write(&repo, &a.env)?;
    let (mut r, mut s) = (rng(), AgeSealer);
    let changed = ops::intermediate(
        &loaded.env,
        &a.name,
        &a.scope,
        &mut HostKeyring::from_env(),
        &mut effects(clock::now()?, &mut r, &mut s),
    )?;
    save(&repo, &loaded, &changed, &lock)?;
    render::intermediate_minted(&a.env, &changed.report);
    Ok(())
}

pub fn ls(dir: &Path, a: LsArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let loaded = repo.load(&a.env)?;
    let listing = ops::ls(&loaded.env, clock::now()?)?;
    if a.json {
        render::json(&listing)
    } else {
        render::out(&listing.to_string())
    }
}

pub fn renew(dir: &Path, a: RenewArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let loaded = repo.load(&a.env)?;
    let req = RenewRequest { service: a.service.clone(), ..RenewRequest::default() };
    if a.bundles_only {
        return refresh_bundles(&repo, &loaded, &req);
    }
    let mut provider = provider::open(&repo, &loaded.env)?;
    let plan = ops::renew(&loaded.env, &req, &mut HostKeyring::from_env(), clock::now()?)?.with_backend(&AWS_LC);
    if let (Some(secret), Some(store)) = (&loaded.env.secret_store_recipient, &loaded.env.store) {
        // Renew seals nothing, so it runs; but the keys are still sealed to the old CI key.
        if !inforge_core::crypto::custody::same_recipient(secret, &store.recipient) {
            eprintln!(
                "warning: the secret store names a new CI recipient ({secret}) but the store's keys are still sealed to {}: run `inforge pki rekey {} --ci` with the previous CI identity",
                store.recipient, a.env
            );
        }
    }
    let current = || repo.check_store(&a.env, loaded.store_text.as_deref());
    mint_and_write(&plan, provider.as_mut(), a.json, &current)
}

/// Mints a plan's leaves across cores and replaces each service+scope as a set, once the
/// provider is held and `still_current` passed.
fn mint_and_write(
    plan: &ops::RenewPlan,
    provider: &mut dyn Provider,
    json: bool,
    still_current: &dyn Fn() -> Result<(), HostError>,
) -> Result<(), CliError> {
    let bar = render::progress(plan.targets.len() as u64);
    let report = inforge_host::mint_and_write_checked(plan, provider, &|| bar.inc(1), still_current)?;
    bar.finish_and_clear();
    let printed = if json { render::json(&report) } else { render::out(&render::renew_text(&report)) };
    if let Err(e) = printed {
        // The provider already holds the new sets: say so, so nobody re-runs a renew (or
        // worse, a recovery) believing this one failed.
        eprintln!(
            "note: the renew itself succeeded: {} leaves were written to {} {}; only this report could not be printed",
            report.leaves.len(),
            report.provider.kind,
            report.provider.path
        );
        return Err(e);
    }
    render::renewed(&report);
    Ok(())
}

/// `renew --bundles-only`: rewrites every bundle.pem from the store, keeping each current leaf
/// and key. Credential-free (bundles are public). Step one of a planned intermediate roll.
fn refresh_bundles(repo: &Repo, loaded: &Loaded, req: &RenewRequest) -> Result<(), CliError> {
    let mut provider = provider::open(repo, &loaded.env)?;
    let refreshes = ops::bundles_only(&loaded.env, req)?;
    write_bundles(provider.as_mut(), &refreshes, &loaded.env.name)
}

/// Writes new bundles beside each set's current leaf and key (sets without a leaf are
/// skipped with a note).
fn write_bundles(provider: &mut dyn Provider, refreshes: &[ops::BundleRefresh], env: &str) -> Result<(), CliError> {
    let bundles: Vec<BundleOnly<'_>> = refreshes
        .iter()
        .map(|r| BundleOnly { service: &r.service, scope: &r.scope, bundle: &r.bundle_pem, spiffe: &r.spiffe_json })
        .collect();
    let skipped = provider.refresh_bundles(&bundles)?;
    for (service, scope) in &skipped {
        eprintln!(
            "note: {service} {scope} has no leaf yet; run `{}`",
            inforge_core::Wording::step(&CLI, &Step::new(Op::Renew).env(env))
        );
    }
    eprintln!(
        "refreshed {} bundles (leaves and keys unchanged), {} skipped → {}",
        refreshes.len() - skipped.len(),
        skipped.len(),
        provider.info().path
    );
    Ok(())
}

pub fn bundle(dir: &Path, a: BundleArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let loaded = repo.load(&a.env)?;
    let which = match &a.scope {
        Some(s) => ops::Which::Scope(s),
        None => ops::Which::Roots,
    };
    let format = match a.format {
        BundleFormatArg::Pem => ops::BundleFormat::Pem,
        BundleFormatArg::Spiffe => ops::BundleFormat::Spiffe,
    };
    render::out(&ops::bundle_as(&loaded.env, &a.name, which, format)?)
}

pub fn units(dir: &Path, a: UnitsArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let loaded = repo.load(&a.env)?;
    let provider_dir =
        match (&a.provider_dir, &loaded.env.project.environment(&a.env).map_err(HostError::from)?.provider) {
            (Some(p), _) => p.clone(),
            (None, inforge_core::model::config::Provider::Dir { path }) => {
                let joined = repo.root.join(path);
                let abs = joined.canonicalize().or_else(|_| std::path::absolute(&joined)).unwrap_or(joined);
                abs.display().to_string()
            }
            (None, _) => String::new(),
        };
    let opts = inforge_core::mesh::units::UnitOptions {
        scope: a.scope.clone(),
        bootstrap_bin: a.bootstrap_bin.clone(),
        provider_dir,
        etcd_tls_dir: a.etcd_tls_dir.clone(),
        watch: a.watch,
        metrics_dir: a.metrics_dir.clone(),
    };
    let units = ops::units(&loaded.env, &a.service, &opts)?;
    if a.json {
        return render::json(&units);
    }
    match &a.out_dir {
        Some(out) => {
            for f in &units.files {
                // Units are often written as root into a shared directory: never through a
                // link planted there (a link at a file's name is replaced, one at a
                // directory's name refused).
                let path = inforge_host::fsio::write_under(out, Path::new(&f.path), f.contents.as_bytes())?;
                render::out(&format!("{}\n", path.display()))?;
            }
            Ok(())
        }
        None => {
            let text: Vec<String> = units.files.iter().map(|f| format!("### {}\n{}", f.path, f.contents)).collect();
            render::out(&text.join("\n"))
        }
    }
}

pub fn validate(dir: &Path, a: ValidateArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (store, secrets) = repo.texts(&a.env)?;
    let mut report = ops::validate(&repo.files(store.as_deref(), secrets.as_deref()), &a.env, clock::now()?);
    report.reword(&CLI);
    let format = if a.json { "json" } else { a.format.as_str() };
    match format {
        "json" => render::json(&report)?,
        "sarif" => render::json(&report.to_sarif())?,
        _ => render::out(&report.to_string())?,
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(CliError::ValidationFailed)
    }
}

fn print_plan(
    repo: &Repo,
    env: &str,
    name: &str,
    what: &inforge_core::views::plan::Planned,
    json: bool,
) -> Result<(), CliError> {
    let loaded = repo.load(env)?;
    let now = clock::now()?;
    let quorum = loaded.env.store.as_ref().and_then(|s| s.root_quorum.as_ref()).map(|q| (q.threshold, q.shares.len()));
    let words = Cli { env: None, root_quorum: quorum };
    let mut p = ops::plan(&loaded.env, name, what, now, &words)?;
    // Finalize's fleet half reads the provider, as the command would.
    if let (inforge_core::views::plan::Planned::Finalize { force: false }, None) = (what, &p.refused) {
        if let Err(e) = fleet_gate(repo, &loaded, name, now) {
            p.refuse(inforge_core::views::plan::Refusal {
                code: e.code(),
                message: e.message(),
                hint: e.hint(&Cli { env: Some(env), root_quorum: quorum }),
            });
        }
    }
    if json {
        // The JSON names the identity the command needs by the CLI's variable (docs/json.md).
        let mut doc = serde_json::to_value(&p).unwrap_or_default();
        if let Some(c) = p.needs {
            let var = match (c, quorum) {
                (inforge_core::crypto::custody::Custodian::OfflineRoot, Some(_)) => "INFORGE_PKI_ROOT_KEY_FILE",
                _ => inforge_host::keyring::env_var(c),
            };
            doc["needs"] = var.into();
        }
        render::json(&doc)
    } else {
        render::out(&p.text(&words))
    }
}

pub fn rotate(dir: &Path, a: RotateArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    if a.plan {
        use inforge_core::views::plan::Planned;
        let what = match (&a.intermediate, a.leaf, a.switch, a.finalize) {
            (Some(scope), ..) => Planned::Intermediate { scope: scope.clone() },
            (None, true, ..) => Planned::Leaf { service: a.service.clone() },
            (None, false, true, _) => Planned::Switch { force: a.force },
            (None, false, false, true) => Planned::Finalize { force: a.force },
            _ => Planned::Root { min_overlap_days: a.min_overlap_days },
        };
        return print_plan(&repo, &a.env, &a.name, &what, a.json);
    }
    if a.leaf {
        // Leaf rotation is re-minting: the same operation as renew, for this mesh's services.
        let loaded = repo.load(&a.env)?;
        let req = RenewRequest { service: a.service.clone(), pki: Some(a.name.clone()), scopes: None };
        let mut provider = provider::open(&repo, &loaded.env)?;
        let plan = ops::renew(&loaded.env, &req, &mut HostKeyring::from_env(), clock::now()?)?.with_backend(&AWS_LC);
        let current = || repo.check_store(&a.env, loaded.store_text.as_deref());
        return mint_and_write(&plan, provider.as_mut(), false, &current);
    }
    let (loaded, lock) = load_for_write(&repo, &a.env)?;
    let mut keyring = HostKeyring::from_env();
    let (mut r, mut s) = (rng(), AgeSealer);
    if let Some(scope) = &a.intermediate {
        let changed = ops::rotate_intermediate(
            &loaded.env,
            &a.name,
            scope,
            &mut keyring,
            &mut effects(clock::now()?, &mut r, &mut s),
        )?;
        save(&repo, &loaded, &changed, &lock)?;
        render::intermediate_rotated(&a.env, &changed.report);
        return Ok(());
    }
    // --root
    if a.force && !(a.finalize || a.switch) {
        return Err(CliError::Usage(
            "--force goes with --root --switch or --root --finalize".into(),
            "inforge pki rotate",
        ));
    }
    if a.switch {
        let changed = ops::switch_root(&loaded.env, &a.name, a.force, clock::now()?)?;
        save(&repo, &loaded, &changed, &lock)?;
        render::switched(&a.env, &changed.report);
        return Ok(());
    }
    if a.finalize {
        let now = clock::now()?;
        ops::check_finalize(&loaded.env, &a.name, a.force, now)?;
        let root_only = loaded
            .env
            .store
            .as_ref()
            .and_then(|s| s.pkis.get(&a.name))
            .is_some_and(|p| p.topology == Topology::RootOnly);
        if !a.force {
            fleet_gate(&repo, &loaded, &a.name, now)?;
        } else if root_only {
            eprintln!(
                "warning: --force: finalizing before the minimum overlap; consumers that have not taken the new root fail on the issuer's new certificates"
            );
        } else {
            eprintln!(
                "warning: --force: finalizing without the phase and fleet checks; a host whose chain still starts on the previous root fails with consumers that trust only the new root until it re-projects"
            );
        }
        let changed = ops::finalize_root(&loaded.env, &a.name, a.force, &mut keyring, now)?;
        save(&repo, &loaded, &changed, &lock)?;
        render::finalized(&a.env, &changed.report, root_only);
        return Ok(());
    }
    let changed = ops::rotate_root(
        &loaded.env,
        &a.name,
        a.min_overlap_days,
        &mut keyring,
        &mut effects(clock::now()?, &mut r, &mut s),
    )?;
    save(&repo, &loaded, &changed, &lock)?;
    render::root_rotated(&a.env, &changed.report);
    Ok(())
}

/// The finalize gate's fleet half: the core names the sets, the host fetches them, the core
/// decides (`ops::check_fleet`).
fn fleet_gate(repo: &Repo, loaded: &Loaded, name: &str, now: time::OffsetDateTime) -> Result<(), CliError> {
    let Some(targets) = ops::fleet_targets(&loaded.env, name, false)? else {
        return Ok(());
    };
    let fetched = provider::open(repo, &loaded.env).and_then(|p| provider::fetch_sets(p.as_ref(), targets));
    let fleet = fetched.as_deref().map_err(|e| format!("{}: {}", e.code(), e.message()));
    Ok(ops::check_fleet(&loaded.env, name, fleet, now)?)
}

pub fn status(dir: &Path, a: StatusArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let loaded = repo.load(&a.env)?;
    let within = inforge_core::model::time::parse_duration("--fail-within", &a.fail_within)?;
    let now = clock::now()?;
    let provider = provider::open(&repo, &loaded.env)?;
    let fetched = provider::fetch_sets(provider.as_ref(), ops::status_targets(&loaded.env)?)?;
    let format = if a.json { StatusFormat::Json } else { a.format.unwrap_or(StatusFormat::Text) };
    let (report, text) = match format {
        StatusFormat::Prometheus => ops::status_metrics(&loaded.env, &fetched, now, within)?,
        _ => {
            let report = ops::status(&loaded.env, &fetched, now, within)?;
            let text = match format {
                StatusFormat::Json => render::json_text(&report)?,
                _ => report.to_string(),
            };
            (report, text)
        }
    };
    match &a.out {
        // Not secret: the usual 0644 of a textfile collector's file.
        Some(path) => inforge_host::fsio::write_atomic(path, text.as_bytes(), Some(0o644))?,
        None => render::out(&text)?,
    }
    if report.ok {
        Ok(())
    } else {
        Err(CliError::StatusProblems { sets: report.problem_sets })
    }
}

/// `pki history`: the host reads the store's versions from git, the core classifies them.
pub fn history(dir: &Path, a: HistoryArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    ops::check_env_name(&a.env)?;
    let revisions = inforge_host::history::store_revisions(&repo.root, &a.env, a.since.as_deref())?;
    let history = ops::history(&a.env, &revisions)?;
    let mut text = String::new();
    for e in &history.events {
        if a.json {
            text.push_str(&serde_json::to_string(e).unwrap_or_default());
        } else {
            text.push_str(&e.to_string());
        }
        text.push('\n');
    }
    render::out(&text)
}

pub fn recover_intermediate(dir: &Path, a: RecoverArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    if a.plan {
        let what = inforge_core::views::plan::Planned::Recover { scope: a.scope.clone() };
        return print_plan(&repo, &a.env, &a.name, &what, a.json);
    }
    let (loaded, lock) = load_for_write(&repo, &a.env)?;
    let (mut r, mut s) = (rng(), AgeSealer);
    let (changed, recovery) = ops::recover_intermediate(
        &loaded.env,
        &a.name,
        &a.scope,
        &mut HostKeyring::from_env(),
        &mut effects(clock::now()?, &mut r, &mut s),
    )?;
    // Commit point: the store first (atomic); then the provider, if this workstation reaches it.
    save(&repo, &loaded, &changed, &lock)?;
    drop(lock);
    render::recovered_revocations(&changed.report);
    let renew_now = || {
        eprintln!(
            "the store is recovered, but the provider was not updated: run `{}` in CI now",
            inforge_core::Wording::step(&CLI, &Step::new(Op::Renew).env(&a.env))
        )
    };
    let mut provider = match provider::open(&repo, &loaded.env) {
        Ok(p) => p,
        Err(e) => {
            renew_now();
            return Err(e.into());
        }
    };
    let plan = recovery.plan.with_backend(&AWS_LC);
    // The recovery holds the store lock throughout: no other writer can change it meanwhile.
    let written = mint_and_write(&plan, provider.as_mut(), false, &|| Ok(()))
        .and_then(|_| write_bundles(provider.as_mut(), &recovery.bundles, &a.env));
    if let Err(e) = written {
        renew_now();
        return Err(e);
    }
    render::recovered(&a.env, &changed.report);
    Ok(())
}

pub fn custody(dir: &Path, a: CustodyArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let loaded = repo.load(&a.env)?;
    let view = ops::custody(&loaded.env)?;
    if a.json {
        render::json(&view)
    } else {
        render::out(&view.text())
    }
}

pub fn rekey(dir: &Path, a: RekeyArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (loaded, lock) = load_for_write(&repo, &a.env)?;
    let (mut r, mut s) = (rng(), AgeSealer);
    let mut fx = effects(clock::now()?, &mut r, &mut s);
    let mut keyring = HostKeyring::from_env();
    let changed = if a.ci {
        ops::rekey_ci(&loaded.env, &mut keyring, &mut fx, a.plan)?
    } else {
        // A new quorum always comes with a new identity (generated here, never shown).
        let fresh = inforge_host::seal::generate_root_identity();
        let holder = match (a.quorum, a.recipient.as_deref()) {
            (Some(threshold), _) => ops::NewRootHolder::Quorum(ops::RootCustody::Quorum {
                identity: &fresh,
                threshold,
                custodians: &a.custodian,
            }),
            (None, Some(r)) => ops::NewRootHolder::Recipient(r),
            (None, None) => unreachable!("clap requires --recipient or --quorum with --root"),
        };
        ops::rekey_root(&loaded.env, holder, &mut keyring, &mut fx, a.plan)?
    };
    if !a.plan && !changed.report.unchanged {
        save(&repo, &loaded, &changed, &lock)?;
    }
    if a.json {
        render::json(&changed.report)
    } else {
        render::out(&render::rekeyed_text(&changed.report))
    }
}

/// The environment a store path names (`…/resources/ENV/pki.enc.yaml`).
fn env_of_path(path: &Path) -> Option<String> {
    let parts: Vec<&str> = path.iter().filter_map(|c| c.to_str()).collect();
    match parts.as_slice() {
        [.., "resources", env, "pki.enc.yaml"] => Some(env.to_string()),
        _ => None,
    }
}

pub fn store_show(dir: &Path, a: StoreShowArgs) -> Result<(), CliError> {
    if !a.check && a.files.len() > 1 {
        return Err(CliError::Usage(
            "give one store file to show (several only with --check)".into(),
            "inforge store show",
        ));
    }
    let mut not_canonical = 0;
    for file in &a.files {
        let path = dir.join(file);
        let text = inforge_host::fsio::read_text(&path)?;
        let name = file.display().to_string();
        if a.check {
            if !ops::store_is_canonical(&name, &text)? {
                eprintln!("{name}: not in the canonical form inforge writes");
                not_canonical += 1;
            }
        } else if !text.trim().is_empty() {
            // An empty file is no store (git's textconv of an added or deleted file): show nothing.
            render::out(&ops::show_store(&name, &text)?)?;
        }
    }
    if not_canonical > 0 {
        return Err(CliError::NotCanonical { files: not_canonical });
    }
    Ok(())
}

pub fn store_diff(dir: &Path, a: StoreDiffArgs) -> Result<(), CliError> {
    let usage = |m: &str| CliError::Usage(m.into(), "inforge store diff");
    let (old_name, new_name, old, new, path) = match &a.git {
        Some(range) => {
            let [path] = a.files.as_slice() else {
                return Err(usage(
                    "with --git, give one path: the store's path in the repo (resources/ENV/pki.enc.yaml)",
                ));
            };
            let (old, new) = inforge_host::git::store_at_range(dir, path, range)?;
            let (b, h) = range.split_once("..").unwrap_or((range, ""));
            let at = |rev: &str| {
                format!(
                    "{} at {}",
                    path.display(),
                    if rev.trim_matches('.').is_empty() { "HEAD" } else { rev.trim_matches('.') }
                )
            };
            (at(b), at(h), old.unwrap_or_default(), new.unwrap_or_default(), path.clone())
        }
        None => {
            let [old, new] = a.files.as_slice() else {
                return Err(usage("give two store files, OLD NEW (or --git RANGE and one path)"));
            };
            let read = |p: &Path| inforge_host::fsio::read_text(&dir.join(p));
            (old.display().to_string(), new.display().to_string(), read(old)?, read(new)?, new.clone())
        }
    };
    let env = a.env.clone().or_else(|| env_of_path(&path));
    let review = ops::review_stores((&old_name, &old), (&new_name, &new), env.as_deref())?;
    let w = Cli { env: env.as_deref(), root_quorum: None };
    match if a.json { DiffFormat::Json } else { a.format.unwrap_or(DiffFormat::Text) } {
        DiffFormat::Json => render::json(&review),
        DiffFormat::Text => render::out(&render::review_text(&review, &w)),
        DiffFormat::Markdown => render::out(&render::review_markdown(&review, &w, &path.display().to_string())),
    }
}

pub fn store_merge(dir: &Path, a: StoreMergeArgs) -> Result<(), CliError> {
    let read = |p: &Path| inforge_host::fsio::read_text(&dir.join(p));
    let (base, ours, theirs) = (read(&a.base)?, read(&a.ours)?, read(&a.theirs)?);
    let env = a.path.as_deref().and_then(env_of_path);
    match ops::merge_stores(Some(&base), &ours, &theirs, env.as_deref())? {
        ops::Merged::Clean { text, .. } => {
            if text != ours {
                inforge_host::fsio::write_atomic(&dir.join(&a.ours), text.as_bytes(), None)?;
            }
            Ok(())
        }
        ops::Merged::Conflicts(conflicts) => {
            let file = a.path.as_ref().map(|p| p.display().to_string());
            for c in &conflicts {
                let place = if c.pki.is_empty() { c.slot.clone() } else { format!("pki {}, {}", c.pki, c.slot) };
                eprintln!("conflict in {}: {place}: {}", file.as_deref().unwrap_or("the store"), c.reason);
            }
            Err(CliError::MergeConflicts { count: conflicts.len(), path: file })
        }
    }
}

pub fn store_install_git(dir: &Path, a: InstallGitArgs) -> Result<(), CliError> {
    let command = match a.command {
        Some(c) => c,
        None => std::env::current_exe()
            .map_err(|e| CliError::io("find", Path::new("the inforge binary"), e))?
            .display()
            .to_string(),
    };
    let done = inforge_host::git::install_drivers(dir, &command, a.global)?;
    let attrs = if done.attributes_added { "added to" } else { "already in" };
    render::out(&format!(
        "`{}` {attrs} {}\ngit config ({}): diff.inforge.textconv and merge.inforge.driver run {command}\n",
        inforge_host::git::ATTRIBUTES_LINE,
        done.attributes.display(),
        done.config
    ))
}

pub fn revoke_leaf(dir: &Path, a: RevokeLeafArgs) -> Result<(), CliError> {
    use inforge_core::model::store::RevocationReason;
    let reason = match a.reason {
        ReasonArg::Unspecified => RevocationReason::Unspecified,
        ReasonArg::KeyCompromise => RevocationReason::KeyCompromise,
        ReasonArg::AffiliationChanged => RevocationReason::AffiliationChanged,
        ReasonArg::Superseded => RevocationReason::Superseded,
        ReasonArg::CessationOfOperation => RevocationReason::CessationOfOperation,
    };
    let repo = Repo::open(dir)?;
    let (loaded, lock) = load_for_write(&repo, &a.env)?;
    let changed = ops::revoke_leaf(&loaded.env, &a.name, &a.serial, reason, clock::now()?)?;
    save(&repo, &loaded, &changed, &lock)?;
    if a.json {
        render::json(&changed.report)?;
    }
    render::leaf_revoked(&a.env, &changed.report);
    Ok(())
}

pub fn root_crl(dir: &Path, a: RootCrlArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    let (loaded, lock) = load_for_write(&repo, &a.env)?;
    let changed = ops::root_crl(&loaded.env, &a.name, &mut HostKeyring::from_env(), clock::now()?)?;
    save(&repo, &loaded, &changed, &lock)?;
    if a.json {
        render::json(&changed.report)?;
    }
    let r = &changed.report;
    eprintln!(
        "signed {} root CRL(s) of {:?} listing {} revoked intermediate(s), valid until {}; commit {} and renew in CI",
        r.crls,
        r.pki,
        r.revoked,
        r.next_update,
        inforge_core::model::store::store_path(&a.env)
    );
    Ok(())
}
