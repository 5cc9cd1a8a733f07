//! One function per command: load, call the core, write, report. No PKI decisions here.

use std::path::Path;

use inforge_core::custody::{parse_recipient, Custodian, Identity};
use inforge_core::pki::{self, PkiError};
use inforge_core::store::{store_path, Store, Topology};

use crate::error::CliError;
use crate::shell::{self, AgeSealer, Repo};
use crate::{AddArgs, InitArgs, IntermediateArgs, LsArgs};

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
    repo.save_store(&a.env, &store, None)?;
    println!("{}", &*root.reveal());
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
        println!("{}", serde_json::to_string_pretty(&listing).unwrap_or_default());
    } else {
        print!("{listing}");
    }
    Ok(())
}
