//! wasm-bindgen tests in Node (the default runner target).
#![cfg(target_arch = "wasm32")]
mod common;
common::wasm_tests!();
