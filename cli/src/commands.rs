//! One function per command: load, call the core, write, report. No PKI decisions here.

use std::path::Path;

use inforge_core::custody::{parse_recipient, Custodian, Identity};
use inforge_core::mesh;
use inforge_core::pki::{self, PkiError};
use inforge_core::store::{store_path, Store, Topology};

use crate::error::CliError;
use crate::provider;
use crate::shell::{self, AgeSealer, Repo};
use crate::{AddArgs, BundleArgs, InitArgs, IntermediateArgs, LsArgs, RenewArgs, ValidateArgs};

fn core<T>(r: Result<T, impl Into<inforge_core::Error>>) -> Result<T, CliError> {
    r.map_err(|e| CliError::Core(e.into()))
}

pub fn init(dir: &Path, a: InitArgs) -> Result<(), CliError> {
    let repo = Repo::open(dir)?;
    repo.env(&a.env)?;
    let path = repo.store_file(&a.env);
    if path.exists() {
        return core(Err(PkiError::StoreExists {
            path: store_path(&a.env),
        }));
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
                Err(_) => {
                    return core(Err(PkiError::NoRecipient {
                        secrets_path: secrets_rel,
                    }))
                }
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
    let topology = if a.topology == "root-only" {
        Topology::RootOnly
    } else {
        Topology::TwoTier
    };
    let algorithm = core(a.algorithm.parse::<inforge_core::keys::Algorithm>())?;
    let now = shell::now()?;
    core(pki::add_pki(
        &mut store,
        &a.env,
        &a.name,
        topology,
        algorithm,
        now,
        &mut shell::rng(),
        &mut AgeSealer,
    ))?;
    repo.save_store(&a.env, &store, Some(&text))?;
    let custody = match topology {
        Topology::TwoTier => "cold: its key is sealed to the offline rootRecipient",
        Topology::RootOnly => "online: its key is sealed to the CI recipient for the issuer",
    };
    eprintln!(
        "added {} PKI {:?} ({algorithm}) to {}; root is {custody}",
        topology.name(),
        a.name,
        store_path(&a.env)
    );
    if topology == Topology::TwoTier {
        eprintln!(
            "next (offline): INFORGE_PKI_ROOT_KEY=… inforge pki intermediate {} {} global",
            a.env, a.name
        );
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
        now,
        &mut shell::rng(),
        &mut AgeSealer,
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
        shell::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&listing).unwrap_or_default()
        ))?;
    } else {
        shell::out(&listing.to_string())?;
    }
    Ok(())
}

pub fn renew(dir: &Path, a: RenewArgs) -> Result<(), CliError> {
    use inforge_core::config::Provider;
    let started = std::time::Instant::now();
    let repo = Repo::open(dir)?;
    let (store, _) = repo.load_store(&a.env)?;
    let provider_root = match &core(repo.project.environment(&a.env))?.provider {
        Provider::Dir { path } => repo.root.join(path),
        Provider::Etcd { .. } => return Err(CliError::ProviderUnsupported { kind: "etcd" }),
    };
    if !provider_root.is_dir() {
        return Err(CliError::ProviderMissing { path: provider_root });
    }
    let targets = core(mesh::plan(&repo.project, &store, &a.env, a.service.as_deref()))?;
    let ci = shell::identity(Custodian::Ci)?;
    let now = shell::now()?;
    let issuers = core(mesh::open_issuers(&store, &repo.project, &targets, &ci))?;

    let bar = progress(targets.len() as u64 * 2);
    let minted = mint_parallel(&store, &targets, &issuers, now, &bar)?;
    let generation = shell::unique_suffix();
    let mut written = Vec::new();
    for m in &minted {
        written.push(provider::write_leaf(&provider_root, m, &generation)?);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let services: std::collections::BTreeSet<&str> = minted.iter().map(|m| m.target.service.as_str()).collect();
    let elapsed = started.elapsed();
    if a.json {
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
            "env": a.env,
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
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(targets.len());
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
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new())))
            .collect()
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
        return Err(CliError::NotARepo {
            dir: root.to_path_buf(),
        });
    }
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| CliError::io("read", p, e));
    let inforge_yaml = read(&cfg)?;
    let regions_path = root.join("regions.yaml");
    let regions = if regions_path.is_file() {
        Some(read(&regions_path)?)
    } else {
        None
    };
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
        "json" => shell::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ))?,
        "sarif" => shell::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report.to_sarif()).unwrap_or_default()
        ))?,
        _ => shell::out(&report.to_string())?,
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(CliError::ValidationFailed)
    }
}
