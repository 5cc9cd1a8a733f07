//! The same wasm-bindgen tests in headless Chromium (chromedriver + Debian's chromium).
#![cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
mod common;
common::wasm_tests!();
