//! WASM bindings of inforge-core for the browser store inspector and JavaScript toolchains
//! (SPEC §9). Thin: each function parses its input object, calls one core function
//! (`inforge_core::views::inspect`, `validate`, `listing`) and converts the typed result with
//! serde-wasm-bindgen. Failures become a JS `Error` with `.code` (the core's stable code) and
//! `.hint` (the remedy in the browser's words), mapped in one place ([`to_js`]).
#![forbid(unsafe_code)]

use inforge_core::crypto::custody::Custodian;
use inforge_core::error::Opt;
use inforge_core::model::store::{store_path, Store};
use inforge_core::views::inspect;
use inforge_core::{Coded, Wording};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The browser's words for remedies: options are the JS input's properties; identities and
/// store-changing operations belong to the inforge CLI.
struct Js;

impl Wording for Js {
    fn opt(&self, o: Opt) -> String {
        match o {
            Opt::Now => "the `now` input".into(),
            Opt::Scope => "the `scope` input".into(),
            Opt::Recipient => "the inforge CLI's --recipient age1…".into(),
            Opt::RepoDir => "the inforge CLI's -C".into(),
            Opt::Force => "the inforge CLI's --force".into(),
            Opt::Roots => "the inforge CLI's --roots".into(),
            Opt::Wait => "the inforge CLI's --wait".into(),
            Opt::PassphraseFile => "the inforge CLI's INFORGE_PASSPHRASE_FILE".into(),
            Opt::CustodianFiles => "the inforge CLI's INFORGE_PKI_ROOT_KEY_FILE=a.key:b.key".into(),
        }
    }
    fn identity(&self, c: Custodian) -> String {
        let var = match c {
            Custodian::OfflineRoot => "INFORGE_PKI_ROOT_KEY",
            Custodian::Ci => "INFORGE_SECRETS_KEY",
        };
        format!("the inforge CLI's {var}")
    }
}

/// A JS `Error` with `.code` and `.hint`; its message is `<code>: <message>` so it reads well
/// when printed whole.
fn js_error(code: &str, message: &str, hint: &str) -> JsValue {
    let e = js_sys::Error::new(&format!("{code}: {message}"));
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    let _ = js_sys::Reflect::set(&e, &"hint".into(), &hint.into());
    e.into()
}

fn to_js(e: impl Into<inforge_core::Error>) -> JsValue {
    let e: inforge_core::Error = e.into();
    js_error(e.code(), &e.to_string(), &e.remedy().render(&Js))
}

fn bad_input(e: impl std::fmt::Display) -> JsValue {
    js_error(
        "input-invalid",
        &format!("the input object is not valid: {e}"),
        "see the TypeScript types in inforge_wasm.d.ts",
    )
}

fn to_value<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    // json_compatible: maps become plain objects and `None` becomes `null`, as in the CLI's JSON.
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("internal", &e.to_string(), "this is a bug in inforge; please report it"))
}

/// What a JS value is, for an error message (`typeof`, with `null` and arrays named).
fn kind_of(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if js_sys::Array::is_array(v) {
        "an array".into()
    } else {
        v.js_typeof().as_string().unwrap_or_else(|| "a value".into())
    }
}

/// A text argument: a string, or UTF-8 bytes (a `Uint8Array`, such as Node's `Buffer` or a
/// browser file's `arrayBuffer()` wrapped in one).
fn text(v: &JsValue, what: &str) -> Result<String, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    if let Some(bytes) = v.dyn_ref::<js_sys::Uint8Array>() {
        return String::from_utf8(bytes.to_vec()).map_err(|_| {
            js_error(
                "file-not-utf8",
                &format!("{what} is not UTF-8 text"),
                "pass the file as it is in the repo: YAML and PEM files are UTF-8",
            )
        });
    }
    Err(bad_input(format!("{what} must be a string or a Uint8Array, not {}", kind_of(v))))
}

/// `now` as RFC 3339 text or a `Date`; `undefined`/`null`: the browser's clock.
fn now_arg(v: &JsValue) -> Result<OffsetDateTime, JsValue> {
    if v.is_undefined() || v.is_null() {
        return now_or_clock(None);
    }
    if let Some(d) = v.dyn_ref::<js_sys::Date>() {
        let ms = d.get_time();
        if !ms.is_finite() {
            return Err(bad_input("`now` is an invalid Date"));
        }
        let t = OffsetDateTime::from_unix_timestamp((ms / 1000.0).floor() as i64)
            .map_err(|_| bad_input("`now` is out of range"))?;
        return inforge_core::model::time::check_now("now", t).map_err(to_js);
    }
    match v.as_string() {
        Some(s) => now_or_clock(Some(&s)),
        None => Err(bad_input(format!("`now` must be RFC 3339 text or a Date, not {}", kind_of(v)))),
    }
}

/// The input object as `T`, refusing properties `T` does not know: serde-wasm-bindgen reads
/// only the fields it looks for, so a typo such as `chainPEM` would otherwise be silently unset.
/// Text properties may be bytes (decoded as UTF-8) and `now` a `Date`; the caller's object is
/// left as it was.
fn from_value<T: for<'de> Deserialize<'de>>(v: JsValue, known: &[&str]) -> Result<T, JsValue> {
    let expects = || format!("expects an object with {}", known.join(", "));
    let Some(obj) = v.dyn_ref::<js_sys::Object>().filter(|_| !js_sys::Array::is_array(&v)) else {
        return Err(bad_input(format!("{}; got {}", expects(), kind_of(&v))));
    };
    let copy = js_sys::Object::new();
    for key in js_sys::Object::keys(obj).iter().filter_map(|k| k.as_string()) {
        if !known.contains(&key.as_str()) {
            return Err(bad_input(format!("unknown property `{key}` (expected one of {})", known.join(", "))));
        }
        let value = js_sys::Reflect::get(obj, &key.as_str().into()).unwrap_or(JsValue::UNDEFINED);
        let value = if value.is_undefined() || value.is_null() {
            JsValue::UNDEFINED
        } else if key == "now" {
            format_time(now_arg(&value)?).into()
        } else if value.is_instance_of::<js_sys::Uint8Array>() {
            text(&value, &format!("`{key}`"))?.into()
        } else {
            value
        };
        if !value.is_undefined() {
            // Setting a property on a fresh plain object cannot fail.
            let _ = js_sys::Reflect::set(&copy, &key.as_str().into(), &value);
        }
    }
    serde_wasm_bindgen::from_value(copy.into()).map_err(|e| bad_input(format!("{e} ({})", expects())))
}

fn format_time(t: OffsetDateTime) -> String {
    inforge_core::model::time::format_rfc3339(t)
}

/// `now` from the input, else the browser's clock (whole seconds, as the CLI's).
fn now_or_clock(now: Option<&str>) -> Result<OffsetDateTime, JsValue> {
    match now.filter(|n| !n.is_empty()) {
        Some(n) => inforge_core::model::time::parse_rfc3339("now", n).map_err(to_js),
        None => {
            let secs = (js_sys::Date::now() / 1000.0).floor() as i64;
            OffsetDateTime::from_unix_timestamp(secs).map_err(|e| js_error("internal", &e.to_string(), ""))
        }
    }
}

fn parse_store(text: &str, env: Option<&str>) -> Result<Store, JsValue> {
    let file = env.map(store_path).unwrap_or_else(|| "pki.enc.yaml".into());
    Store::parse(&file, text).map_err(to_js)
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Thrown by every function: `code` is the core's stable code (docs/errors.md, docs/validate.md). */
export interface InforgeError extends Error { code: string; hint: string; }

export type Role = "root" | "previous-root" | "intermediate" | "previous-intermediate" | "leaf";
export interface Revoked { fingerprint: string; scope: string; subject: string; revokedAt: string; serial?: string; }
export interface RevokedSummary { fingerprint: string; scope: string; subject: string; revokedAt: string; serial: string | null; }
export interface RevokedLeaf {
  serial: string; reason: "unspecified" | "keyCompromise" | "affiliationChanged" | "superseded" | "cessationOfOperation";
  revokedAt: string;
}
export interface CertView {
  role: Role; scope: string | null; location: string; subject: string; issuer: string; serial: string;
  subjectKeyId: string | null; authorityKeyId: string | null; uriSans: string[]; dnsSans: string[];
  notBefore: string; notAfter: string; daysLeft: number; expired: boolean; fingerprint: string;
  algorithm: string | null; isCa: boolean; pathLen: number | null; revoked: Revoked | null; pem: string;
}
export interface Unreadable { location: string; code: string; message: string; }
export interface PkiView {
  name: string; topology: "two-tier" | "root-only"; algorithm: string; certs: CertView[];
  rootOverlap: boolean; rootOverlapStarted: string | null;
  rootPhase: "stable" | "overlap" | "switched"; rootSwitchedAt: string | null;
  revoked: Revoked[]; unreadable: Unreadable[];
}
export interface StoreView {
  version: number; rootRecipient: string; recipient: string; env: string | null; now: string;
  leafDays: number; pkis: PkiView[];
}
export interface Diagnostic {
  code: string; severity: "error" | "warning"; file: string; subject: string; message: string; hint: string;
}
/** File texts may be given as UTF-8 bytes (`Uint8Array`, Node's `Buffer`); `now` as a `Date`. */
export type Text = string | Uint8Array;
export interface ValidateInput { store?: Text; config?: Text; regions?: Text; now?: string | Date; env?: string; }
export interface MatrixInput { store: Text; config?: Text; regions?: Text; env?: string; }
export interface CertSummary { subject: string; notAfter: string; daysLeft: number; fingerprint: string; expired: boolean; }
export interface OverlapSummary {
  rootOverlap: boolean; rootOverlapStarted: string | null; phase: "stable" | "overlap" | "switched";
  switchAllowedAt: string | null; switchedAt: string | null; finalizeAllowedAt: string | null;
  previousRoots: CertSummary[]; previousIntermediates: { [scope: string]: CertSummary[] };
}
export interface PkiSummary {
  name: string; topology: "two-tier" | "root-only"; algorithm: string; tiers: string[]; root: CertSummary;
  intermediates: { [scope: string]: CertSummary }; overlap: OverlapSummary; revoked: RevokedSummary[];
  revokedLeaves: RevokedLeaf[]; leafTtl: string | null;
}
/** The `inforge pki ls --json` document (docs/json.md). */
export interface Listing { env: string; now: string; pkis: PkiSummary[]; }
export interface BundleInput {
  store: Text; pki: string; scope?: string; roots?: boolean; config?: Text; regions?: Text; env?: string;
  format?: "pem" | "spiffe";
}
export interface TrustCell { scope: string; trusted: boolean; fingerprints: string[]; error: Unreadable | null; }
export interface TrustRow { scope: string; error: Unreadable | null; cells: TrustCell[]; }
export interface TrustMatrix {
  env: string; scopes: string[];
  pkis: { name: string; rows: TrustRow[] }[];
  boundary: { caller: string; callee: string; allowed: boolean; reason: string }[];
}
export interface LeafInput {
  store: Text; chainPem: Text; scope?: string; now?: string | Date; config?: Text; regions?: Text; env?: string;
}
export interface LeafCheck {
  ok: boolean; scope: string; pki: string | null; spiffeId: string | null; leaf: CertView;
  issuerFingerprint: string | null; checks: { check: string; ok: boolean; detail: string }[];
}
export interface Authorization { allowed: boolean; reason: string; caller: string | null; }
export type ChangeKind =
  | "pki-added" | "pki-removed" | "intermediate-minted" | "intermediate-rotated" | "intermediate-recovered"
  | "intermediate-replaced" | "intermediate-resigned" | "intermediate-removed" | "previous-intermediate-dropped"
  | "root-overlap-started" | "root-switched" | "root-finalized" | "root-replaced" | "revoked" | "leaf-revoked" | "recipient-changed" | "quorum-changed";
export interface Change {
  kind: ChangeKind; pki: string; scope: string | null; subject: string; before: string | null; after: string | null;
}
export interface StoreDiff { changes: Change[]; unchanged: boolean; }
export interface BundleChange { pki: string; scope: string | null; }
export interface Step { op: string; env: string | null; pki: string | null; scope: string | null; }
export interface NextStep { step: Step; command: string; from: string | null; why: string; }
export interface ReviewWarning { code: string; pki: string; slot: string; message: string; }
export interface StoreReview {
  changes: Change[]; bundles: BundleChange[]; next: NextStep[]; warnings: ReviewWarning[]; unchanged: boolean;
}
export interface ShareHolder { recipient: string; kind: string; location: string; }
export interface QuorumView { threshold: number; custodians: ShareHolder[]; }
export interface Holder {
  custodian: "ci" | "offline-root"; recipient: string; secretStoreRecipient?: string;
  quorum?: QuorumView; seals: string[];
}
export interface CustodyView { env: string; ci: Holder; root: Holder; note: string; }
"#;

/// Every certificate of a store with its details (`now`: RFC 3339, default the clock).
#[wasm_bindgen(js_name = inspectStore, unchecked_return_type = "StoreView")]
pub fn inspect_store(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] store_yaml: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let now = now_arg(&now)?;
    let store = parse_store(&text(&store_yaml, "the store")?, None)?;
    to_value(&inspect::inspect_store(&store, now))
}

/// Any PEM certificates or bundle, outside a store (the page's paste box, like `step
/// certificate inspect`): each certificate's details, in the order given (`now`: RFC 3339 or a
/// `Date`, default the clock).
#[wasm_bindgen(js_name = inspectPem, unchecked_return_type = "CertView[]")]
pub fn inspect_pem(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] pem: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let now = now_arg(&now)?;
    let views = inspect::inspect_pem(&text(&pem, "the PEM")?, now).map_err(to_js)?;
    to_value(&views)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ValidateInput {
    store: Option<String>,
    config: Option<String>,
    regions: Option<String>,
    now: Option<String>,
    env: Option<String>,
}

/// The CLI's `validate` findings (same codes, subjects), hints in the browser's words. Without
/// `config`, the store's own checks.
#[wasm_bindgen(unchecked_return_type = "Diagnostic[]")]
pub fn validate(#[wasm_bindgen(unchecked_param_type = "ValidateInput")] input: JsValue) -> Result<JsValue, JsValue> {
    let i: ValidateInput = from_value(input, &["store", "config", "regions", "now", "env"])?;
    let now = now_or_clock(i.now.as_deref())?;
    let mut report =
        inspect::validate(i.config.as_deref(), i.regions.as_deref(), i.store.as_deref(), i.env.as_deref(), now)
            .map_err(to_js)?;
    report.reword(&Js);
    to_value(&report.diagnostics)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MatrixInput {
    store: String,
    config: Option<String>,
    regions: Option<String>,
    env: Option<String>,
}

/// Which scope's bundle trusts which scope's intermediates, and the boundary rule per pair.
#[wasm_bindgen(js_name = trustMatrix, unchecked_return_type = "TrustMatrix")]
pub fn trust_matrix(#[wasm_bindgen(unchecked_param_type = "MatrixInput")] input: JsValue) -> Result<JsValue, JsValue> {
    let i: MatrixInput = from_value(input, &["store", "config", "regions", "env"])?;
    let store = parse_store(&i.store, i.env.as_deref())?;
    let (project, env) =
        inspect::resolve(i.config.as_deref(), i.regions.as_deref(), &store, i.env.as_deref()).map_err(to_js)?;
    to_value(&inspect::trust_matrix(&store, &project, &env))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LeafInput {
    store: String,
    chain_pem: String,
    scope: Option<String>,
    now: Option<String>,
    config: Option<String>,
    regions: Option<String>,
    env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BundleInput {
    store: String,
    pki: String,
    scope: Option<String>,
    #[serde(default)]
    roots: bool,
    config: Option<String>,
    regions: Option<String>,
    env: Option<String>,
    format: Option<String>,
}

/// A trust bundle as PEM, byte-equal to `inforge pki bundle` and to the `bundle.pem` renew
/// writes: a scope's (`scope`) or the roots (`roots: true`). Exactly one of the two. With
/// `format: "spiffe"`, the SPIFFE bundle JWKS instead (`bundle.spiffe.json`).
#[wasm_bindgen(js_name = scopeBundle)]
pub fn scope_bundle(#[wasm_bindgen(unchecked_param_type = "BundleInput")] input: JsValue) -> Result<String, JsValue> {
    let i: BundleInput = from_value(input, &["store", "pki", "scope", "roots", "config", "regions", "env", "format"])?;
    let spiffe = match i.format.as_deref() {
        None | Some("pem") => false,
        Some("spiffe") => true,
        Some(other) => return Err(bad_input(format!("format {other:?}: use \"pem\" or \"spiffe\""))),
    };
    let store = parse_store(&i.store, i.env.as_deref())?;
    let pki = inforge_core::pki::tiers::get_pki(&store, &i.pki).map_err(to_js)?;
    let certs = match (i.scope.as_deref(), i.roots) {
        (Some(scope), false) => {
            let (project, env) =
                inspect::resolve(i.config.as_deref(), i.regions.as_deref(), &store, i.env.as_deref()).map_err(to_js)?;
            let certs = inforge_core::mesh::scope_bundle(&store, &project, &env, &i.pki, scope).map_err(to_js)?;
            if spiffe {
                return inforge_core::mesh::scope_spiffe(pki, &project, scope, &certs).map_err(to_js);
            }
            certs
        }
        (None, true) => {
            let certs = inforge_core::mesh::root_bundle(&store, &i.pki).map_err(to_js)?;
            if spiffe {
                return inforge_core::mesh::root_spiffe(pki, &certs).map_err(to_js);
            }
            certs
        }
        _ => return Err(bad_input("pass exactly one of `scope` (a scope such as \"global\") or `roots: true`")),
    };
    Ok(inforge_core::mesh::pem_bundle(&certs))
}

/// Checks a leaf chain (leaf first) against a scope's bundle (default: the leaf's own scope).
#[wasm_bindgen(js_name = checkLeaf, unchecked_return_type = "LeafCheck")]
pub fn check_leaf(#[wasm_bindgen(unchecked_param_type = "LeafInput")] input: JsValue) -> Result<JsValue, JsValue> {
    let i: LeafInput = from_value(input, &["store", "chainPem", "scope", "now", "config", "regions", "env"])?;
    let now = now_or_clock(i.now.as_deref())?;
    let store = parse_store(&i.store, i.env.as_deref())?;
    let (project, env) =
        inspect::resolve(i.config.as_deref(), i.regions.as_deref(), &store, i.env.as_deref()).map_err(to_js)?;
    to_value(&inspect::check_leaf(&store, &project, &env, &i.chain_pem, i.scope.as_deref(), now).map_err(to_js)?)
}

/// The regional boundary rule for two SPIFFE IDs.
#[wasm_bindgen(unchecked_return_type = "Authorization")]
pub fn authorize(caller_spiffe_id: &str, callee_spiffe_id: &str) -> Result<JsValue, JsValue> {
    to_value(&inspect::authorize_ids(caller_spiffe_id, callee_spiffe_id).map_err(to_js)?)
}

/// The peer check a service embeds after the TLS handshake: the caller known by the chain it
/// presented (leaf first, then its intermediate), whose leaf may claim only its issuing
/// intermediate's scope, then the regional boundary rule. A forged leaf (a regional
/// intermediate's key signing a `global` ID) is refused here though its IDs would pass
/// `authorize`.
#[wasm_bindgen(js_name = authorizePeer, unchecked_return_type = "Authorization")]
pub fn authorize_peer(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] chain_pem: JsValue,
    callee_spiffe_id: &str,
) -> Result<JsValue, JsValue> {
    to_value(&inspect::authorize_chain(&text(&chain_pem, "the chain")?, callee_spiffe_id).map_err(to_js)?)
}

/// What changed from one store version to another (a pull request's review).
#[wasm_bindgen(js_name = diffStores, unchecked_return_type = "StoreDiff")]
pub fn diff_stores(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] before_yaml: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] after_yaml: JsValue,
) -> Result<JsValue, JsValue> {
    let before = Store::parse("before/pki.enc.yaml", &text(&before_yaml, "the before store")?).map_err(to_js)?;
    let after = Store::parse("after/pki.enc.yaml", &text(&after_yaml, "the after store")?).map_err(to_js)?;
    to_value(&inspect::diff_stores(&before, &after))
}

/// A next step with its command in the CLI's words (the browser cannot run it).
#[derive(Serialize)]
struct JsNext<'a> {
    step: &'a inforge_core::error::Step,
    command: String,
    from: Option<&'a str>,
    why: &'a str,
}

#[derive(Serialize)]
struct JsReview<'a> {
    changes: &'a [inspect::Change],
    bundles: &'a [inforge_core::views::review::BundleChange],
    next: Vec<JsNext<'a>>,
    warnings: &'a [inforge_core::views::review::ReviewWarning],
    unchanged: bool,
}

/// The change review of a pull request (`inforge store diff --json`, the same core function):
/// the changes, the bundles whose content changes, who acts next and from when, and what looks
/// wrong. `env` fills the next steps' commands. An empty text is an absent store.
#[wasm_bindgen(js_name = reviewStores, unchecked_return_type = "StoreReview")]
pub fn review_stores(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] before_yaml: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] after_yaml: JsValue,
    env: Option<String>,
) -> Result<JsValue, JsValue> {
    let (before, after) = (text(&before_yaml, "the before store")?, text(&after_yaml, "the after store")?);
    let r = inforge_core::ops::review_stores(
        ("before/pki.enc.yaml", &before),
        ("after/pki.enc.yaml", &after),
        env.as_deref(),
    )
    .map_err(to_js)?;
    let next = r
        .next
        .iter()
        .map(|n| JsNext { step: &n.step, command: Js.step(&n.step), from: n.from.as_deref(), why: &n.why })
        .collect();
    to_value(&JsReview {
        changes: &r.changes,
        bundles: &r.bundles,
        next,
        warnings: &r.warnings,
        unchanged: r.unchanged,
    })
}

/// Who holds what (the `inforge pki custody --json` document): the CI recipient, the offline
/// root's recipient or quorum, and the keys each seals. No identity.
#[wasm_bindgen(js_name = custodyView, unchecked_return_type = "CustodyView")]
pub fn custody_view(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] store_yaml: JsValue,
    env: &str,
) -> Result<JsValue, JsValue> {
    inforge_core::ops::check_env_name(env).map_err(to_js)?;
    let store = parse_store(&text(&store_yaml, "the store")?, Some(env))?;
    to_value(&inforge_core::views::custody::custody(&store, env, None))
}

/// Lists a store's PKIs (the `inforge pki ls --json` document) at `now` (RFC 3339 text or a
/// `Date`; absent: the clock).
#[wasm_bindgen(js_name = listStore, unchecked_return_type = "Listing")]
pub fn list_store(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] store_yaml: JsValue,
    env: &str,
    #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let now = now_arg(&now)?;
    let store = parse_store(&text(&store_yaml, "the store")?, Some(env))?;
    to_value(&inforge_core::views::listing::listing(&store, env, now).map_err(to_js)?)
}
