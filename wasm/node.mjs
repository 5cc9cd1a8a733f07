// The package's Node entry: the browser build's module, instantiated synchronously from the
// .wasm beside it, so `import * as inforge from "inforge-wasm"` works without `await init()`.
import { readFileSync } from "node:fs";
import { initSync } from "../inforge_wasm.js";

initSync({ module: readFileSync(new URL("../inforge_wasm_bg.wasm", import.meta.url)) });
export * from "../inforge_wasm.js";
// The browser's `import init, * as inforge from "inforge-wasm"` works here too: the module is
// already instantiated, so `await init()` returns at once.
export { default } from "../inforge_wasm.js";
