//! `age-plugin-inforgetest`: a tiny age plugin for tests only.
//!
//! It lets inforge's tests exercise the `AGE-PLUGIN-…` identity path (the one a hardware
//! plugin such as age-plugin-yubikey takes) on machines that have no hardware. The "hardware
//! key" is a plain X25519 secret stored inside the identity string itself, so this plugin
//! offers no protection at all beyond a native age identity: never use it for real data.
//!
//! Formats (plugin name `inforgetest`):
//! - identity: Bech32, HRP `AGE-PLUGIN-INFORGETEST-`, data = 32-byte X25519 secret key;
//! - recipient: Bech32, HRP `age1inforgetest`, data = the 32-byte X25519 public key;
//! - stanza: `-> inforgetest TAG` where TAG is the hex of the first 4 bytes of
//!   SHA-256(public key), and the body is the 16-byte file key encrypted with age itself
//!   (binary, unarmored) to the equivalent native X25519 recipient.
//!
//! Fault injection: with `INFORGE_TEST_PLUGIN_FAIL=1` in its environment, the identity side
//! answers every stanza it would unwrap with an error instead of a file key.

use std::collections::{HashMap, HashSet};
use std::io;
use std::process::ExitCode;

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret as _;
use age_plugin::identity::{self, IdentityPluginV1};
use age_plugin::recipient::{self, RecipientPluginV1};
use age_plugin::{print_new_identity, run_state_machine, Callbacks, PluginHandler};
use bech32::{FromBase32, ToBase32, Variant};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// The plugin name: binary `age-plugin-inforgetest`, HRPs `age1inforgetest` and
/// `AGE-PLUGIN-INFORGETEST-`.
const PLUGIN_NAME: &str = "inforgetest";
/// The stanza tag this plugin writes and reads.
const STANZA_TAG: &str = "inforgetest";
/// Set to `1` to make the identity side refuse every stanza it would unwrap.
const FAIL_ENV: &str = "INFORGE_TEST_PLUGIN_FAIL";
const FAIL_MESSAGE: &str = "test plugin: refused by INFORGE_TEST_PLUGIN_FAIL";

/// Native age HRPs, used to hand our raw key bytes to the `age` crate's X25519 types.
const AGE_SECRET_KEY_HRP: &str = "age-secret-key-";
const AGE_RECIPIENT_HRP: &str = "age";
const KEY_BYTES: usize = 32;
const FILE_KEY_BYTES: usize = 16;

const USAGE: &str = "\
age-plugin-inforgetest: a TEST-ONLY age plugin (no protection beyond a native age key)

Usage:
  age-plugin-inforgetest --generate          print a new identity (with its recipient as a comment)
  age-plugin-inforgetest --age-plugin=SM     run an age plugin state machine (used by age clients)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let state_machine = match args.as_slice() {
        ["--generate"] => {
            generate();
            return ExitCode::SUCCESS;
        }
        ["-h" | "--help"] => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [arg] if arg.starts_with("--age-plugin=") => &arg["--age-plugin=".len()..],
        ["--age-plugin", sm] => *sm,
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run_state_machine(state_machine, Handler) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("age-plugin-inforgetest: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a fresh identity in the usual plugin identity-file format:
/// `# created: …`, `# recipient: age1inforgetest1…`, then `AGE-PLUGIN-INFORGETEST-1…`.
fn generate() {
    let native = age::x25519::Identity::generate();
    let mut secret = decode_bech32(native.to_string().expose_secret(), AGE_SECRET_KEY_HRP)
        .expect("age encodes its own X25519 identities as Bech32");
    let public = decode_bech32(&native.to_public().to_string(), AGE_RECIPIENT_HRP)
        .expect("age encodes its own X25519 recipients as Bech32");
    print_new_identity(PLUGIN_NAME, &secret, &public);
    secret.zeroize();
}

/// Decodes a Bech32 string whose HRP must be `hrp` (case-insensitive) into its bytes.
fn decode_bech32(s: &str, hrp: &str) -> Option<Vec<u8>> {
    let (got_hrp, data, variant) = bech32::decode(s).ok()?;
    if variant != Variant::Bech32 || !got_hrp.eq_ignore_ascii_case(hrp) {
        return None;
    }
    Vec::<u8>::from_base32(&data).ok()
}

/// The native X25519 identity whose secret key is `secret` (32 bytes).
fn native_identity(secret: &[u8]) -> Result<age::x25519::Identity, String> {
    if secret.len() != KEY_BYTES {
        return Err(format!("identity key must be {KEY_BYTES} bytes, got {}", secret.len()));
    }
    let mut encoded =
        bech32::encode(AGE_SECRET_KEY_HRP, secret.to_base32(), Variant::Bech32).map_err(|e| e.to_string())?;
    let identity = encoded.to_uppercase().parse::<age::x25519::Identity>().map_err(str::to_owned);
    encoded.zeroize();
    identity
}

/// The native X25519 recipient whose public key is `public` (32 bytes).
fn native_recipient(public: &[u8]) -> Result<age::x25519::Recipient, String> {
    if public.len() != KEY_BYTES {
        return Err(format!("recipient key must be {KEY_BYTES} bytes, got {}", public.len()));
    }
    let encoded = bech32::encode(AGE_RECIPIENT_HRP, public.to_base32(), Variant::Bech32).map_err(|e| e.to_string())?;
    encoded.parse::<age::x25519::Recipient>().map_err(str::to_owned)
}

/// The stanza argument naming a public key: hex of the first 4 bytes of SHA-256(key).
fn key_tag(recipient: &age::x25519::Recipient) -> String {
    let public = decode_bech32(&recipient.to_string(), AGE_RECIPIENT_HRP).unwrap_or_default();
    Sha256::digest(&public)[..4].iter().map(|b| format!("{b:02x}")).collect()
}

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = RecipientPlugin;
    type IdentityV1 = IdentityPlugin;

    fn recipient_v1(self) -> io::Result<Self::RecipientV1> {
        Ok(RecipientPlugin::default())
    }

    fn identity_v1(self) -> io::Result<Self::IdentityV1> {
        Ok(IdentityPlugin::default())
    }
}

/// Wraps file keys; recipients and identities are both kept as the native recipient they
/// stand for, in the order the client gave them (recipients first, then identities).
#[derive(Default)]
struct RecipientPlugin {
    recipients: Vec<age::x25519::Recipient>,
    identities: Vec<age::x25519::Recipient>,
}

impl RecipientPluginV1 for RecipientPlugin {
    fn add_recipient(&mut self, index: usize, plugin_name: &str, bytes: &[u8]) -> Result<(), recipient::Error> {
        let recipient = check_plugin_name(plugin_name).and_then(|()| native_recipient(bytes));
        match recipient {
            Ok(r) => {
                self.recipients.push(r);
                Ok(())
            }
            Err(message) => {
                Err(recipient::Error::Recipient { index, message: format!("invalid recipient: {message}") })
            }
        }
    }

    fn add_identity(&mut self, index: usize, plugin_name: &str, bytes: &[u8]) -> Result<(), recipient::Error> {
        let identity = check_plugin_name(plugin_name).and_then(|()| native_identity(bytes));
        match identity {
            Ok(i) => {
                self.identities.push(i.to_public());
                Ok(())
            }
            Err(message) => Err(recipient::Error::Identity { index, message: format!("invalid identity: {message}") }),
        }
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        let mut errors = Vec::new();
        let mut files = Vec::with_capacity(file_keys.len());
        for file_key in &file_keys {
            let mut stanzas = Vec::with_capacity(self.recipients.len() + self.identities.len());
            for recipient in self.recipients.iter().chain(&self.identities) {
                match age::encrypt(recipient, file_key.expose_secret()) {
                    Ok(body) => {
                        stanzas.push(Stanza { tag: STANZA_TAG.to_owned(), args: vec![key_tag(recipient)], body })
                    }
                    Err(e) => {
                        errors.push(recipient::Error::Internal { message: format!("wrapping the file key: {e}") })
                    }
                }
            }
            files.push(stanzas);
        }
        Ok(if errors.is_empty() { Ok(files) } else { Err(errors) })
    }
}

/// Unwraps `inforgetest` stanzas addressed to one of its identities; ignores all others.
#[derive(Default)]
struct IdentityPlugin {
    identities: Vec<(age::x25519::Identity, String)>,
}

impl IdentityPluginV1 for IdentityPlugin {
    fn add_identity(&mut self, index: usize, plugin_name: &str, bytes: &[u8]) -> Result<(), identity::Error> {
        let identity = check_plugin_name(plugin_name).and_then(|()| native_identity(bytes));
        match identity {
            Ok(i) => {
                let tag = key_tag(&i.to_public());
                self.identities.push((i, tag));
                Ok(())
            }
            Err(message) => Err(identity::Error::Identity { index, message: format!("invalid identity: {message}") }),
        }
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        _callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let fail = std::env::var_os(FAIL_ENV).is_some_and(|v| v == "1");
        let mut results = HashMap::new();
        for (file_index, stanzas) in files.iter().enumerate() {
            if let Some(result) = self.unwrap_file(file_index, stanzas, fail) {
                results.insert(file_index, result);
            }
        }
        Ok(results)
    }
}

impl IdentityPlugin {
    /// `None` when no stanza of the file is addressed to our identities (so the client
    /// goes on to its other identities); otherwise the file key, or why it failed.
    fn unwrap_file(
        &self,
        file_index: usize,
        stanzas: &[Stanza],
        fail: bool,
    ) -> Option<Result<FileKey, Vec<identity::Error>>> {
        let mut errors = Vec::new();
        for (stanza_index, stanza) in stanzas.iter().enumerate() {
            if stanza.tag != STANZA_TAG {
                continue;
            }
            let stanza_error = |message: String| identity::Error::Stanza { file_index, stanza_index, message };
            let [arg] = stanza.args.as_slice() else {
                errors.push(stanza_error(format!("malformed {STANZA_TAG} stanza: expected exactly one argument")));
                continue;
            };
            for (identity, tag) in &self.identities {
                if tag != arg {
                    continue;
                }
                if fail {
                    errors.push(stanza_error(FAIL_MESSAGE.to_owned()));
                    continue;
                }
                match age::decrypt(identity, &stanza.body) {
                    Ok(mut plaintext) => {
                        let key = <[u8; FILE_KEY_BYTES]>::try_from(plaintext.as_slice());
                        plaintext.zeroize();
                        match key {
                            Ok(mut key) => {
                                let file_key = FileKey::init_with_mut(|k| k.copy_from_slice(&key));
                                key.zeroize();
                                return Some(Ok(file_key));
                            }
                            Err(_) => errors.push(stanza_error("wrapped file key has the wrong length".to_owned())),
                        }
                    }
                    Err(e) => errors.push(stanza_error(format!("unwrapping the file key: {e}"))),
                }
            }
        }
        if errors.is_empty() {
            None
        } else {
            Some(Err(errors))
        }
    }
}

fn check_plugin_name(plugin_name: &str) -> Result<(), String> {
    if plugin_name.eq_ignore_ascii_case(PLUGIN_NAME) {
        Ok(())
    } else {
        Err(format!("this plugin handles only `{PLUGIN_NAME}` keys, not `{plugin_name}`"))
    }
}
