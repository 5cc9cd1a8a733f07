//! WASM bindings of inforge-core for the browser store inspector (thin: no domain logic).
//! Errors map to a JS `Error` whose message is `<code>: <message> (hint: …)` in one place,
//! with remedies in the browser's words (a browser never holds an identity).
#![forbid(unsafe_code)]

use inforge_core::custody::Custodian;
use inforge_core::error::Opt;
use inforge_core::{Coded, Wording};
use wasm_bindgen::prelude::*;

/// The browser's words for remedies: options are the JS input's properties; identities and
/// store-changing operations belong to the inforge CLI.
struct Js;

impl Wording for Js {
    fn opt(&self, o: Opt) -> String {
        match o {
            Opt::Now => "the `now` input".into(),
            Opt::Scope => "`scope`".into(),
            other => format!("the inforge CLI's {}", inforge_core::error::CliWording.opt(other)),
        }
    }
    fn identity(&self, c: Custodian) -> String {
        format!("the inforge CLI's {}", c.env_var())
    }
}

fn to_js(e: inforge_core::Error) -> JsError {
    JsError::new(&format!("{}: {} (hint: {})", e.code(), e, e.remedy().render(&Js)))
}

/// Lists a store's PKIs (the `inforge pki ls --json` document) at `now` (RFC 3339).
#[wasm_bindgen(js_name = listStore)]
pub fn list_store(store_yaml: &str, env: &str, now: &str) -> Result<String, JsError> {
    let now = inforge_core::time::parse_rfc3339("now", now).map_err(to_js)?;
    let store = inforge_core::store::Store::parse("pki.enc.yaml", store_yaml).map_err(to_js)?;
    let listing = inforge_core::listing::listing(&store, env, now).map_err(to_js)?;
    serde_json::to_string(&listing).map_err(|e| JsError::new(&e.to_string()))
}
