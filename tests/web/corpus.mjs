// One behavioural corpus, two frontends: for every case of tests/corpus (built by
// tests/corpus/make.sh), `inforge validate prd --json` and the npm package's `validate` must
// give the same diagnostics (code, severity, file, subject, message), and include the codes the
// case expects. Usage: node corpus.mjs <corpus dir> <inforge binary>
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
// The package's Node entry, as a consumer gets it.
import init, * as inforge from "../../wasm/pkg/node/index.mjs";
// The documented browser form works in Node too: init() is there and returns at once.
assert.equal(typeof init, "function");
await init();
const [dir, bin] = process.argv.slice(2);
const read = (p) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
const key = (d) => `${d.severity} ${d.code} ${d.file} ${d.subject} :: ${d.message}`;

let passed = 0;
for (const name of readdirSync(dir).filter((n) => !n.startsWith(".")).sort()) {
  const repo = `${dir}/${name}`;
  const now = read(`${repo}/now`).trim();
  const expect = read(`${repo}/expect`).split("\n").filter(Boolean);
  let cliOut;
  try {
    cliOut = execFileSync(bin, ["-C", repo, "validate", "prd", "--json"], {
      env: { ...process.env, INFORGE_NOW: now },
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    assert.equal(e.status, 1, `${name}: validate exits 0 or 1, got ${e.status}: ${e.stderr}`);
    cliOut = e.stdout;
  }
  const cli = JSON.parse(cliOut).diagnostics;
  const wasm = inforge.validate({
    config: read(`${repo}/inforge.yaml`),
    regions: read(`${repo}/regions.yaml`),
    store: read(`${repo}/resources/prd/pki.enc.yaml`),
    now,
    env: "prd",
  });
  assert.deepEqual(wasm.map(key), cli.map(key), `${name}: the CLI and WASM disagree`);
  const codes = new Set(cli.map((d) => d.code));
  for (const c of expect) assert.ok(codes.has(c), `${name}: expected ${c}, got ${[...codes]}`);
  if (!expect.length) assert.equal(cli.filter((d) => d.severity === "error").length, 0, `${name}: expected no errors, got ${[...codes]}`);
  // Hints are worded per frontend: where the CLI says INFORGE_NOW, JS says the `now` input
  // (operations stay inforge CLI command lines for every frontend).
  wasm.forEach((d, i) => {
    assert.ok(!/INFORGE_NOW/.test(d.hint), `${name}: ${d.hint}`);
    // Remedies are rendered with real values in every frontend: no `<env>`-style placeholder.
    assert.ok(!/<[a-z-]+>/.test(d.hint) && !/<[a-z-]+>/.test(cli[i].hint), `${name}: a placeholder in ${d.hint} / ${cli[i].hint}`);
    if (/INFORGE_NOW/.test(cli[i].hint)) assert.match(d.hint, /the `now` input/);
  });
  console.log(`ok corpus ${name}: ${cli.length} diagnostic(s) [${[...codes].join(", ")}] identical`);
  passed++;
}
assert.ok(passed >= 10, `only ${passed} corpus cases`);

// The peer check (tests/corpus/peers): the same cases the Rust core and Python run.
const peers = new URL("../corpus/peers/", import.meta.url);
const peerText = (f) => readFileSync(new URL(f, peers), "utf8");
for (const c of JSON.parse(peerText("cases.json"))) {
  let chain = peerText(c.chain.replace(/^LEAF_ONLY:/, ""));
  if (c.chain.startsWith("LEAF_ONLY:")) {
    const end = "-----END CERTIFICATE-----\n";
    chain = chain.slice(0, chain.indexOf(end) + end.length);
  }
  if (c.error) {
    assert.throws(() => inforge.authorizePeer(chain, c.callee), (e) => e.code === c.error, c.name);
  } else {
    const a = inforge.authorizePeer(chain, c.callee);
    assert.equal(a.allowed, c.allowed, `${c.name}: ${a.reason}`);
    assert.equal(a.caller, c.caller, c.name);
  }
  console.log(`ok peer ${c.name}`);
  passed++;
}

// Bundles, both frontends: `inforge pki bundle --format pem|spiffe` and the package's
// `scopeBundle`, byte for byte, for every scope and the roots of the healthy case.
{
  const repo = `${dir}/healthy`;
  const input = { config: read(`${repo}/inforge.yaml`), regions: read(`${repo}/regions.yaml`), store: read(`${repo}/resources/prd/pki.enc.yaml`), env: "prd", pki: "wardnet-mesh" };
  for (const [flag, extra] of [[["--scope", "global"], { scope: "global" }], [["--scope", "us-east-1"], { scope: "us-east-1" }], [["--roots"], { roots: true }]]) {
    for (const format of ["pem", "spiffe"]) {
      const cli = execFileSync(bin, ["-C", repo, "pki", "bundle", "prd", "wardnet-mesh", ...flag, "--format", format], { stdio: ["ignore", "pipe", "pipe"] }).toString();
      assert.equal(inforge.scopeBundle({ ...input, ...extra, format }), cli, `bundle ${flag.join(" ")} ${format}`);
    }
  }
  const doc = JSON.parse(inforge.scopeBundle({ ...input, scope: "us-east-1", format: "spiffe" }));
  assert.deepEqual(doc.keys.map((k) => k.use), ["x509-svid", "x509-svid"]);
  assert.throws(() => inforge.scopeBundle({ ...input, scope: "global", format: "jwks" }), (e) => e.code === "input-invalid" || /format/.test(e.message));
  console.log("ok bundles: pem and spiffe identical through the CLI and WASM");
  passed++;
}

// docs/python.md's parity table: every JS name it promises is exported by the package.
{
  const doc = readFileSync(new URL("../../docs/python.md", import.meta.url), "utf8");
  const table = doc.split("<!-- parity-table -->")[1].split("<!-- /parity-table -->")[0];
  const rows = table.trim().split("\n").slice(2).map((l) => l.trim().replace(/^\||\|$/g, "").split(" | "));
  let names = 0;
  for (const [op, , , js] of rows) {
    for (const [, name] of js.matchAll(/`([a-zA-Z]+)\(/g)) {
      assert.equal(typeof inforge[name], "function", `${op}: the package exports no ${name}`);
      names++;
    }
  }
  assert.ok(names >= 10, `only ${names} JS names in the parity table`);
  console.log(`ok parity table: ${names} JS names exported`);
  passed++;
}

// The change review, both frontends: `inforge store diff --json` and the package's
// `reviewStores` on the same pairs of store versions (the browser adds each step's command).
const store = (name) => `${dir}/${name}/resources/prd/pki.enc.yaml`;
const pairs = [[`${dir}/.before.pki.enc.yaml`, `${dir}/.after.pki.enc.yaml`]];
if (existsSync(store("rotated")) && existsSync(store("recovered"))) pairs.push([store("rotated"), store("recovered")]);
pairs.push([`${dir}/.after.pki.enc.yaml`, `${dir}/.before.pki.enc.yaml`]);
for (const [b, a] of pairs) {
  const cli = JSON.parse(execFileSync(bin, ["store", "diff", b, a, "--env", "prd", "--json"]));
  const wasm = inforge.reviewStores(readFileSync(b, "utf8"), readFileSync(a, "utf8"), "prd");
  for (const n of wasm.next) {
    assert.ok(n.command.startsWith("inforge pki "), n.command);
    delete n.command;
  }
  for (const n of cli.next) n.from ??= null;
  assert.deepEqual(wasm, cli, `review ${b} -> ${a}: the CLI and WASM disagree`);
  assert.ok(!cli.unchanged && cli.changes.length > 0, `review ${b} -> ${a}: no change found`);
  console.log(`ok review ${b.split("/").slice(-3).join("/")} -> ${a.split("/").slice(-3).join("/")}: ${cli.changes.length} change(s), ${cli.next.length} step(s) identical`);
  passed++;
}
console.log(`corpus: ${passed} passed`);
