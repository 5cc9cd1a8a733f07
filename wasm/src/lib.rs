//! WASM bindings of inforge-core for the browser store inspector (thin: no domain logic).
//! Errors map to a JS `Error` whose message is `<code>: <message> (hint: …)` in one place.
#![forbid(unsafe_code)]

use inforge_core::Coded;
use wasm_bindgen::prelude::*;

fn to_js(e: inforge_core::Error) -> JsError {
    JsError::new(&format!("{}: {} (hint: {})", e.code(), e, e.hint()))
}

/// Lists a store's PKIs (the `inforge pki ls --json` document) at `now` (RFC 3339).
#[wasm_bindgen(js_name = listStore)]
pub fn list_store(store_yaml: &str, env: &str, now: &str) -> Result<String, JsError> {
    let now = inforge_core::time::parse_rfc3339("now", now).map_err(|e| to_js(e.into()))?;
    let store = inforge_core::store::Store::parse("pki.enc.yaml", store_yaml).map_err(|e| to_js(e.into()))?;
    let listing = inforge_core::pki::listing(&store, env, now).map_err(to_js)?;
    serde_json::to_string(&listing).map_err(|e| JsError::new(&e.to_string()))
}
