// The npm package as a CommonJS consumer on Node 20 gets it: `require("inforge-wasm")`
// (resolved through the package's `exports`), and the ES entry as `import` gets it, answering
// the same calls identically. Usage: node require.cjs <dir whose node_modules/inforge-wasm is
// the built package> <corpus case dir>
const assert = require("node:assert/strict");
const { readFileSync, existsSync } = require("node:fs");
const { createRequire } = require("node:module");
const [consumer, repo] = process.argv.slice(2);
const req = createRequire(`${consumer}/consumer.cjs`);
const resolved = req.resolve("inforge-wasm");
assert.match(resolved, /node[\\/]index\.cjs$/, `require resolves the CommonJS entry, got ${resolved}`);
const cjs = req("inforge-wasm");
const read = (p) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
const input = {
  config: read(`${repo}/inforge.yaml`),
  regions: read(`${repo}/regions.yaml`),
  store: read(`${repo}/resources/prd/pki.enc.yaml`),
  now: read(`${repo}/now`).trim(),
  env: "prd",
};
(async () => {
  const esm = await import(require("node:url").pathToFileURL(`${consumer}/node_modules/inforge-wasm/node/index.mjs`).href);
  for (const fn of ["validate", "inspectStore", "trustMatrix"]) {
    assert.equal(typeof cjs[fn], "function", `require("inforge-wasm").${fn}`);
  }
  const a = cjs.validate(input);
  const b = esm.validate(input);
  assert.ok(a.length > 0, "the case has diagnostics to compare");
  assert.deepEqual(a, b, "CommonJS and ES entries disagree");
  // Errors keep their code through the CommonJS entry too.
  let code;
  try {
    cjs.inspectStore("not: [a store", input.now);
  } catch (e) {
    code = e.code;
  }
  assert.ok(typeof code === "string" && code.length > 0, `an error with .code, got ${code}`);
  console.log(`ok require("inforge-wasm"): ${a.length} diagnostic(s), identical to the ES entry; errors carry .code (${code})`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
