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

/// The test mesh: a store with global, us-east-1 and eu-west-1 intermediates, its identities
/// (offline root, CI), the project and the time.
fn mesh() -> (Store, Identity, Identity, Project, OffsetDateTime, rand_chacha::ChaCha20Rng) {
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
    (store, root, ci, project, now, rng)
}

/// (store before, store after rotating us-east-1's intermediate) as YAML.
pub fn stores() -> (String, String) {
    let (mut store, root, _, project, now, mut rng) = mesh();
    let before = store.to_yaml();
    let mut fx = Effects { now, rng: &mut rng, sealer: &mut AgeSealer };
    inforge_core::pki::rotate::rotate_intermediate(&mut store, &project, "prd", "mesh", "us-east-1", &root, &mut fx)
        .unwrap();
    (before, store.to_yaml())
}

/// (a store, the `cert.pem` chain of web's us-east-1 leaf minted from it).
pub fn store_and_leaf() -> (String, String) {
    let (store, _, ci, project, now, mut rng) = mesh();
    let f = inforge_core::mesh::Filter::default();
    let targets = inforge_core::mesh::targets(&project, &store, "prd", &f).unwrap();
    let issuers = inforge_core::mesh::open_issuers(&store, &project, "prd", &targets, &ci, now).unwrap();
    let web = targets.iter().find(|t| t.service == "web" && t.scope == "us-east-1").unwrap();
    let leaf =
        inforge_core::mesh::mint(web, &issuers[&("mesh".into(), "us-east-1".into())], None, now, &mut rng).unwrap();
    (store.to_yaml(), leaf.cert_pem)
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
            let v = common::json(inforge_wasm::inspect_store(before.as_str().into(), common::NOW.into()).unwrap());
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
            let v = common::json(inforge_wasm::custody_view(before.as_str().into(), "prd").unwrap());
            assert_eq!(v["root"]["seals"], json!(["pkis.mesh.root.key"]));
            assert_eq!(v["ci"]["seals"].as_array().unwrap().len(), 3);
            assert!(v["root"].get("quorum").is_none());
            let (code, _) = common::code_of(inforge_wasm::custody_view(before.as_str().into(), "../x").unwrap_err());
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
            let d = common::json(inforge_wasm::diff_stores(before.as_str().into(), after.as_str().into()).unwrap());
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
            let (code, _) = common::code_of(inforge_wasm::inspect_store("\u{0}garbage".into(), wasm_bindgen::JsValue::UNDEFINED).unwrap_err());
            assert_eq!(code, "store-invalid");
            let (code, _) = common::code_of(inforge_wasm::inspect_store("version: 99\n".into(), wasm_bindgen::JsValue::UNDEFINED).unwrap_err());
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

        #[wasm_bindgen_test]
        fn inputs_take_bytes_and_dates_and_say_what_they_expect() {
            let (before, _) = common::stores();
            // Bytes (a Uint8Array, as Node's Buffer is) read as the same store.
            let bytes: wasm_bindgen::JsValue = js_sys::Uint8Array::from(before.as_bytes()).into();
            let from_bytes = common::json(inforge_wasm::inspect_store(bytes.clone(), common::NOW.into()).unwrap());
            let from_text = common::json(inforge_wasm::inspect_store(before.as_str().into(), common::NOW.into()).unwrap());
            assert_eq!(from_bytes, from_text);
            // A Date for `now`, top level and in an input object.
            let date: wasm_bindgen::JsValue = js_sys::Date::new(&common::NOW.into()).into();
            let with_date = common::json(inforge_wasm::inspect_store(bytes.clone(), date.clone()).unwrap());
            assert_eq!(with_date, from_text);
            let input = js_sys::Object::new();
            js_sys::Reflect::set(&input, &"store".into(), &bytes).unwrap();
            js_sys::Reflect::set(&input, &"now".into(), &date).unwrap();
            let diags = common::json(inforge_wasm::validate(input.clone().into()).unwrap());
            assert!(diags.is_array());
            // The caller's object is left as it was.
            assert!(wasm_bindgen::JsCast::is_instance_of::<js_sys::Date>(&js_sys::Reflect::get(&input, &"now".into()).unwrap()));
            // Not UTF-8: the CLI's code.
            let bad: wasm_bindgen::JsValue = js_sys::Uint8Array::from(&[0xffu8, 0xfe][..]).into();
            let (code, _) = common::code_of(inforge_wasm::inspect_store(bad, wasm_bindgen::JsValue::UNDEFINED).unwrap_err());
            assert_eq!(code, "file-not-utf8");
            // No input object: say what is expected, no serde internals.
            let e = inforge_wasm::validate(wasm_bindgen::JsValue::UNDEFINED).unwrap_err();
            let message = js_sys::Reflect::get(&e, &"message".into()).unwrap().as_string().unwrap();
            assert!(message.contains("expects an object with store, config"), "{message}");
            assert!(!message.contains("struct") && !message.contains("unit value"), "{message}");
            // listStore without `now` uses the clock.
            let listed = common::json(inforge_wasm::list_store(before.as_str().into(), "prd", wasm_bindgen::JsValue::UNDEFINED).unwrap());
            assert!(listed["pkis"].is_array() || listed["pkis"].is_object(), "{listed}");
        }

        #[wasm_bindgen_test]
        fn check_leaf_names_the_leaf_and_refuses_an_unknown_scope() {
            let (before, chain) = common::store_and_leaf();
            let r = common::json(
                inforge_wasm::check_leaf(common::input(json!({"store": before, "chainPem": chain, "config": common::CFG, "regions": common::REGIONS, "now": common::NOW})))
                    .unwrap(),
            );
            assert_eq!(r["leaf"]["role"], "leaf");
            let (code, _) = common::code_of(
                inforge_wasm::check_leaf(common::input(json!({"store": before, "chainPem": chain, "scope": "mars-1", "config": common::CFG, "regions": common::REGIONS, "now": common::NOW})))
                    .unwrap_err(),
            );
            assert_eq!(code, "scope-unknown");
        }
    };
}
pub(crate) use wasm_tests;
