//! The wasm-bindgen tests shared by the Node run (`node.rs`) and the headless-Chromium run
//! (`browser.rs`): a real two-tier store is built in the test by the core (keys sealed with the
//! real age library), then read back through the JS-facing functions.

use inforge_core::crypto::custody::{Custodian, Identity, Sealer};
use inforge_core::crypto::effects::Effects;
use inforge_core::model::config::Project;
use inforge_core::model::store::{Store, Topology};
use rand_chacha::rand_core::SeedableRng;
use serde_json::Value;
use time::OffsetDateTime;
use wasm_bindgen::{JsCast, JsValue};

pub const CFG: &str = "baseDomain: w.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\nservices:\n  api: {pki: mesh, scope: global}\n  web: {pki: mesh, scope: regional}\n";
pub const REGIONS: &str = "regions: [us-east-1, eu-west-1]\n";
pub const NOW: &str = "2026-09-21T12:00:00Z";

struct AgeSealer;
impl Sealer for AgeSealer {
    fn seal(&mut self, recipient: &str, plaintext: &[u8], _: &str) -> Result<String, inforge_core::Error> {
        let r: age::x25519::Recipient = recipient.parse().expect("recipient");
        Ok(age::encrypt_and_armor(&r, plaintext).expect("seal"))
    }
}

/// (store before, store after rotating us-east-1's intermediate) as YAML.
pub fn stores() -> (String, String) {
    let now = inforge_core::model::time::parse_rfc3339("now", NOW).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let root = Identity::from_age(age::x25519::Identity::generate(), Custodian::OfflineRoot);
    let ci = Identity::from_age(age::x25519::Identity::generate(), Custodian::Ci);
    let project = Project::parse(CFG, Some(REGIONS)).unwrap();
    let mut store = Store::new(root.recipient().unwrap(), ci.recipient().unwrap());
    let mut fx = Effects { now, rng: &mut rng, sealer: &mut AgeSealer };
    let alg = inforge_core::crypto::keys::Algorithm::EcdsaP256;
    inforge_core::pki::lifecycle::add_pki(&mut store, "prd", "mesh", Topology::TwoTier, alg, &mut fx).unwrap();
    for scope in ["global", "us-east-1", "eu-west-1"] {
        inforge_core::pki::lifecycle::add_intermediate(&mut store, &project, "prd", "mesh", scope, &root, &mut fx)
            .unwrap();
    }
    let before = store.to_yaml();
    inforge_core::pki::rotate::rotate_intermediate(&mut store, &project, "prd", "mesh", "us-east-1", &root, &mut fx)
        .unwrap();
    let _: OffsetDateTime = now;
    (before, store.to_yaml())
}

pub fn json(v: JsValue) -> Value {
    serde_wasm_bindgen::from_value(v).expect("a JSON-compatible value")
}

pub fn input(v: Value) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap()
}

use serde::Serialize;

/// The thrown value's `.code` and `.hint`, and that it is a real `Error`.
pub fn code_of(e: JsValue) -> (String, String) {
    assert!(e.is_instance_of::<js_sys::Error>(), "thrown value is an Error");
    let get = |k: &str| js_sys::Reflect::get(&e, &k.into()).unwrap().as_string().unwrap_or_default();
    (get("code"), get("hint"))
}

macro_rules! wasm_tests {
    () => {
        use serde_json::json;
        use wasm_bindgen_test::wasm_bindgen_test;

        #[wasm_bindgen_test]
        fn inspect_shows_every_certificate() {
            let (before, _) = common::stores();
            let v = common::json(inforge_wasm::inspect_store(&before, Some(common::NOW.into())).unwrap());
            assert_eq!(v["env"], "prd");
            let certs = v["pkis"][0]["certs"].as_array().unwrap();
            assert_eq!(certs.len(), 4);
            assert_eq!(certs[0]["role"], "root");
            assert_eq!(certs[0]["isCa"], true);
            assert_eq!(certs[1]["authorityKeyId"], certs[0]["subjectKeyId"]);
            assert_eq!(certs[1]["fingerprint"].as_str().unwrap().len(), 64);
        }

        #[wasm_bindgen_test]
        fn custody_view_names_each_custodians_keys() {
            let (before, _) = common::stores();
            let v = common::json(inforge_wasm::custody_view(&before, "prd").unwrap());
            assert_eq!(v["root"]["seals"], json!(["pkis.mesh.root.key"]));
            assert_eq!(v["ci"]["seals"].as_array().unwrap().len(), 3);
            assert!(v["root"].get("quorum").is_none());
            let (code, _) = common::code_of(inforge_wasm::custody_view(&before, "../x").unwrap_err());
            assert_eq!(code, "name-invalid");
        }

        #[wasm_bindgen_test]
        fn validate_matches_the_core_and_words_hints_for_js() {
            let (before, _) = common::stores();
            let late = "2036-01-01T00:00:00Z";
            let d = common::json(
                inforge_wasm::validate(common::input(
                    json!({"store": before, "config": common::CFG, "regions": common::REGIONS, "now": late}),
                ))
                .unwrap(),
            );
            let codes: Vec<&str> = d.as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
            let now = inforge_core::model::time::parse_rfc3339("now", late).unwrap();
            let cli = inforge_core::views::validate::validate_texts(common::CFG, Some(common::REGIONS), Some(&before), "prd", now);
            assert_eq!(codes, cli.codes());
            assert!(codes.contains(&"cert-expired"), "{codes:?}");
        }

        #[wasm_bindgen_test]
        fn matrix_leaf_authorize_and_diff() {
            let (before, after) = common::stores();
            let m = common::json(
                inforge_wasm::trust_matrix(common::input(
                    json!({"store": before, "config": common::CFG, "regions": common::REGIONS}),
                ))
                .unwrap(),
            );
            let row = &m["pkis"][0]["rows"][1];
            assert_eq!(row["scope"], "us-east-1");
            assert_eq!(row["cells"][0]["trusted"], true); // global
            assert_eq!(row["cells"][2]["trusted"], false); // eu-west-1
            let a = common::json(
                inforge_wasm::authorize("spiffe://w.example/prd/global/api", "spiffe://w.example/prd/eu-west-1/web")
                    .unwrap(),
            );
            assert_eq!(a["allowed"], false);
            let d = common::json(inforge_wasm::diff_stores(&before, &after).unwrap());
            assert_eq!(d["changes"][0]["kind"], "intermediate-rotated");
            assert_eq!(d["changes"][0]["scope"], "us-east-1");
            let (code, hint) = common::code_of(
                inforge_wasm::check_leaf(common::input(json!({"store": before, "chainPem": "not a pem"}))).unwrap_err(),
            );
            assert_eq!(code, "cert-invalid");
            assert!(!hint.is_empty());
        }

        #[wasm_bindgen_test]
        fn errors_carry_code_and_hint_in_js_words() {
            let (code, _) = common::code_of(inforge_wasm::inspect_store("\u{0}garbage", None).unwrap_err());
            assert_eq!(code, "store-invalid");
            let (code, _) = common::code_of(inforge_wasm::inspect_store("version: 99\n", None).unwrap_err());
            assert_eq!(code, "store-version");
            let (code, hint) = common::code_of(inforge_wasm::authorize("nope", "spiffe://w.example/prd/global/a").unwrap_err());
            assert_eq!(code, "spiffe-id-invalid");
            assert!(!hint.contains("INFORGE_NOW"));
            let (code, hint) = common::code_of(
                inforge_wasm::validate(common::input(json!({"store": "x", "now": "yesterday"}))).unwrap_err(),
            );
            assert_eq!(code, "time-invalid");
            assert!(hint.contains("`now` input"), "{hint}");
            // A misspelt property is refused, not silently ignored.
            let (code, _) = common::code_of(
                inforge_wasm::check_leaf(common::input(json!({"store": "x", "chainPEM": "y", "chainPem": "z"})))
                    .unwrap_err(),
            );
            assert_eq!(code, "input-invalid");
        }
    };
}
pub(crate) use wasm_tests;
