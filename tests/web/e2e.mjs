// End-to-end tests of the inspector page (web/) in Debian's Chromium, driven by playwright-core.
// Usage: node e2e.mjs <page base URL> <corpus dir> <100-PKI repo dir> <screenshot dir>
// The page must make no request outside its own origin and throw no uncaught exception.
import { chromium } from "playwright-core";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";

const [base, corpus, big, shots] = process.argv.slice(2);
const origin = new URL(base).origin;
const profile = mkdtempSync(`${tmpdir()}/inforge-chromium-`);
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] || (await context.newPage());
const offsite = [];
const pageErrors = [];
const consoleErrors = [];
context.on("request", (r) => {
  const u = new URL(r.url());
  if (u.origin !== origin && u.protocol !== "data:" && u.protocol !== "blob:") offsite.push(r.url());
});
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));

const repo = (name) => `${corpus}/${name}`;
const files = (name, ...which) => which.map((w) => ({
  store: `${repo(name)}/resources/prd/pki.enc.yaml`, config: `${repo(name)}/inforge.yaml`, regions: `${repo(name)}/regions.yaml`,
})[w]);
// axe-core (tests/web/package.json), run in the page through the DevTools protocol (the
// page's CSP allows no inline script, and the check must not loosen it).
const axeSource = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
async function axe(where) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () =>
    (await window.axe.run(document, { resultTypes: ["violations"] })).violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")}`));
  assert.deepEqual(violations, [], `${where}: axe found accessibility violations`);
  console.log(`ok axe ${where}: no violation`);
}
/** A button's accessible name as a screen reader gets it (aria-hidden parts left out). */
const names = (locator) => locator.evaluateAll((els) => els.map((el) =>
  [...el.childNodes].filter((n) => !(n.getAttribute && n.getAttribute("aria-hidden") === "true")).map((n) => n.textContent).join("")));
let passed = 0;
async function step(name, f) {
  await f();
  assert.deepEqual(pageErrors, [], `${name}: uncaught page errors`);
  console.log(`ok e2e ${name}`);
  passed++;
}
const text = (sel) => page.locator(sel).innerText();
async function fresh() {
  await page.goto(`${base}/index.html`);
  await page.waitForSelector("body[data-ready=true]");
  await page.fill("#now", "2026-11-26T00:00:00Z");
}

try {
  await fresh();
  await step("example store: hierarchy, details, matrix, timeline, validation", async () => {
    // A secret store picked with the rest is set aside, by name or by content, never taken
    // for the PKI store.
    const tmp = mkdtempSync(`${tmpdir()}/inforge-secrets-`);
    const secret = "recipient: age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg\nsecrets: {}\n";
    writeFileSync(`${tmp}/secrets.enc.yaml`, secret);
    writeFileSync(`${tmp}/vault.yaml`, secret);
    await page.setInputFiles("#files", [...files("healthy", "store", "config", "regions"), `${tmp}/secrets.enc.yaml`, `${tmp}/vault.yaml`]);
    await page.waitForSelector("#pki-count");
    assert.equal(await text("#pki-count"), "2");
    assert.match(await text("#ignored"), /Set aside: secrets\.enc\.yaml, vault\.yaml/);
    assert.match(await text("#loaded"), /pki\.enc\.yaml \(store\)/);
    rmSync(tmp, { recursive: true, force: true });
    const tree = await text("#tree");
    for (const s of ["wardnet-mesh", "daemon-ca", "global", "us-east-1", "eu-west-1", "two-tier", "root-only"]) assert.ok(tree.includes(s), s);
    assert.equal(await page.locator("#tree button.cert").count(), 5);
    // Keyboard: focus the us-east-1 intermediate and press Enter.
    const usEast = page.getByRole("button", { name: /^wardnet-mesh us-east-1 · intermediate/ });
    // The accessible name carries what the button shows, and the days left in words.
    assert.match((await names(usEast))[0], /^wardnet-mesh us-east-1 · intermediate 18\d\d d, 18\d\d days left$/);
    assert.equal(await page.locator('#tree button.cert[data-health="ok"]').count(), 5, "a healthy store has no marks");
    assert.equal(await text("#sum-errors"), "0");
    await usEast.focus();
    await page.keyboard.press("Enter");
    const details = await text("#details");
    assert.match(details, /wardnet-mesh prd us-east-1 intermediate CA/);
    assert.match(details, /pathLen 0/);
    assert.match(details, /SHA-256\s+[0-9a-f]{64}/);
    assert.match(details, /ecdsa-p256/);
    const cell = (pki, row, col) => page.locator(`table[data-pki="${pki}"] tbody tr:nth-child(${row}) td:nth-child(${col + 1})`).innerText();
    // scopes: global, us-east-1, eu-west-1
    assert.equal(await cell("wardnet-mesh", 2, 1), "✓ trusts"); // us-east-1 trusts global
    assert.equal(await cell("wardnet-mesh", 2, 3), "✗ no"); // us-east-1 does not trust eu-west-1
    assert.equal(await cell("wardnet-mesh", 1, 3), "✓ trusts"); // global trusts eu-west-1
    assert.equal(await page.locator("#boundary tbody tr:nth-child(1) td:nth-child(3)").innerText(), "✗ refused"); // global→us-east-1
    assert.equal(await page.locator("#boundary tbody tr:nth-child(2) td:nth-child(2)").innerText(), "✓ allowed"); // us-east-1→global
    assert.equal(await page.locator("#timeline-svg rect.bar").count(), 5);
    assert.equal(await page.locator("#timeline-svg line.mark.now").count(), 1);
    assert.equal(await page.locator("#timeline-svg line.mark.horizon").count(), 1);
    const nowX = Number(await page.locator("#timeline-svg line.mark.now").getAttribute("x1"));
    const horizonX = Number(await page.locator("#timeline-svg line.mark.horizon").getAttribute("x1"));
    assert.ok(horizonX > nowX, "the leaf TTL horizon is after now");
    assert.match(await text("#validation-summary"), /no errors/);
    // Custody: the same facts as `inforge pki custody` (one root identity in the quickstart).
    assert.match(await text("#custody-root"), /Offline root: one identity, age1[0-9a-z]+/);
    assert.match(await text("#custody"), /pkis\.wardnet-mesh\.intermediates\.us-east-1\.key/);
    assert.match(await text("#custody"), /pkis\.daemon-ca\.root\.key/);
    // Downloads: the selected certificate, and a scope's bundle byte-equal to what renew wrote.
    const [cert] = await Promise.all([page.waitForEvent("download"), page.click("#download-cert")]);
    assert.equal(cert.suggestedFilename(), "wardnet-mesh-us-east-1-intermediate.pem");
    const certPem = readFileSync(await cert.path(), "utf8");
    assert.match(certPem, /^-----BEGIN CERTIFICATE-----\n/);
    assert.ok(readFileSync(`${corpus}/.provider-prd/web/mtls/us-east-1/cert.pem`, "utf8").endsWith(certPem), "the intermediate of the leaf's chain");
    const [bundle] = await Promise.all([page.waitForEvent("download"),
      page.click('table[data-pki="wardnet-mesh"] button.download-bundle[data-scope="us-east-1"]')]);
    assert.equal(readFileSync(await bundle.path(), "utf8"), readFileSync(`${corpus}/.provider-prd/web/mtls/us-east-1/bundle.pem`, "utf8"));
    await page.screenshot({ path: `${shots}/inspector-overview.png`, fullPage: true });
    await axe("healthy store");
  });

  await step("boundary rule for a pasted pair of SPIFFE IDs", async () => {
    await page.fill("#caller", "spiffe://wardnet.example/prd/us-east-1/web");
    await page.fill("#callee", "spiffe://wardnet.example/prd/eu-west-1/web");
    await page.click("#authz button");
    assert.match(await text("#authz-result"), /refused: cross-region call from us-east-1 to eu-west-1/);
    await page.fill("#callee", "spiffe://wardnet.example/prd/global/api");
    await page.click("#authz button");
    assert.match(await text("#authz-result"), /allowed/);
    await page.fill("#callee", "not an id");
    await page.click("#authz button");
    // The error shows next to the form that caused it, not in the alert at the top.
    assert.match(await text("#authz-result"), /spiffe-id-invalid/);
    assert.ok(await page.locator("#error").isHidden());
  });

  await step("check a leaf against a scope bundle", async () => {
    const leaf = readFileSync(`${corpus}/.provider-prd/web/mtls/us-east-1/cert.pem`, "utf8");
    await page.fill("#chain", leaf);
    await page.click("#leaf-form button");
    assert.match(await text("#leaf-verdict"), /✓ trusted by us-east-1's bundle \(wardnet-mesh\)/);
    await page.selectOption("#leaf-scope", "eu-west-1");
    await page.click("#leaf-form button");
    assert.match(await text("#leaf-verdict"), /✗ not trusted by eu-west-1's bundle/);
    assert.match(await text("#leaf-result"), /✗ issued-by-bundle/);
    await page.locator("#leaf").screenshot({ path: `${shots}/inspector-leaf.png` });
    // A bad paste: the error is in the leaf's result area, in view, with its hint.
    await page.fill("#chain", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n");
    await page.click("#leaf-form button");
    assert.match(await text("#leaf-result"), /chain-is-a-key/);
    assert.match(await text("#leaf-result"), /cert\.pem/);
    assert.ok(await page.locator("#error").isHidden());
    assert.ok(await page.locator("#leaf-result .error").isVisible());
  });

  await step("paste box: any PEM chain and bundle, details checked against Node's own X.509 parser", async () => {
    const dir = `${corpus}/.provider-prd/web/mtls/us-east-1`;
    const pasted = readFileSync(`${dir}/cert.pem`, "utf8") + readFileSync(`${dir}/bundle.pem`, "utf8");
    const expected = pasted.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g).map((p) => new X509Certificate(p));
    await page.fill("#pem-paste", pasted);
    await page.click("#pem-form button");
    assert.equal(await text("#pem-count"), `${expected.length} certificates`);
    const fps = await page.locator("#pem-result .pem-cert").evaluateAll((els) => els.map((e) => e.dataset.fp));
    assert.deepEqual(fps, expected.map((x) => x.fingerprint256.replaceAll(":", "").toLowerCase()));
    const first = await text("#pem-result .pem-cert:first-of-type");
    assert.match(first, /1\. leaf/);
    assert.match(first, new RegExp(expected[0].subjectAltName.replace("URI:", "").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
    assert.match(await text("#pem-result"), /2\. intermediate/);
    await page.locator("#pem").screenshot({ path: `${shots}/inspector-pem.png` });
    // A pasted key is refused by name next to the box, its text never repeated.
    await page.fill("#pem-paste", "-----BEGIN PRIVATE KEY-----\nMIIBsecret\n-----END PRIVATE KEY-----\n");
    await page.click("#pem-form button");
    assert.match(await text("#pem-result"), /chain-is-a-key/);
    assert.ok(!/MIIBsecret/.test(await text("#pem-result")));
    assert.ok(await page.locator("#error").isHidden());
  });

  await step("broken store: its diagnostics with hints, marks where they are, nothing left from the last store", async () => {
    // State from the healthy store: a selected certificate, a filter, a pasted chain.
    await page.fill("#filter", "ward");
    await page.fill("#chain", "leftover");
    await page.setInputFiles("#files", files("swapped-intermediate", "store", "config", "regions"));
    await page.waitForSelector("#validation-summary.bad");
    assert.match(await text("#details"), /Select a certificate in the hierarchy/);
    assert.equal(await page.inputValue("#filter"), "");
    assert.equal(await page.inputValue("#chain"), "");
    assert.equal(await text("#leaf-result"), "");
    // The tampered slot is marked in the hierarchy, the timeline and the matrix, and only it.
    const marked = await names(page.locator('#tree button.cert[data-health="error"]'));
    assert.equal(marked.length, 1, `${marked}`);
    assert.match(marked[0], /^wardnet-mesh us-east-1 · intermediate \d+ d, \d+ days left \(\d+ error\(s\)/);
    assert.equal(await page.locator("#timeline-svg rect.bar.health-error").count(), 1);
    assert.equal(await page.locator('table[data-pki="wardnet-mesh"] td.cell-error').count(), 2, "global's and us-east-1's bundles would carry it");
    assert.equal(await page.locator('table[data-pki="wardnet-mesh"] tbody tr:nth-child(3) td.cell-error').count(), 0, "eu-west-1's row stays decided");
    assert.notEqual(await text("#sum-errors"), "0");
    assert.match(await page.locator("#sum-errors").locator("..").getAttribute("class"), /bad/);
    await axe("broken store, with marks");
    const diags = await text("#diagnostics");
    assert.match(diags, /intermediate-scope-mismatch/);
    assert.match(diags, /pkis\.wardnet-mesh\.intermediates\.us-east-1/);
    assert.match(diags, /Hint: /);
    await page.locator("#validation").screenshot({ path: `${shots}/inspector-diagnostics.png` });
  });

  await step("intermediates expiring within the leaf TTL: marked in the summary, hierarchy and timeline", async () => {
    await fresh();
    await page.fill("#now", "2031-10-01T00:00:00Z");
    await page.setInputFiles("#files", files("intermediate-expiring", "store", "config", "regions"));
    await page.waitForSelector("#validation-summary.bad");
    assert.equal(await text("#sum-expiring"), "3");
    assert.equal(Number(await text("#sum-errors")), 3, "intermediate-expiring is an error for each scope");
    const marked = page.locator('#tree button.cert[data-health="error"]');
    assert.equal(await marked.count(), 3);
    for (const label of await names(marked)) {
      assert.match(label, /intermediate \d+ d, \d+ days left \(1 error\(s\)(, \d+ warning\(s\))?, expiring\)$/);
    }
    assert.equal(await page.locator("#timeline-svg rect.bar.health-error").count(), 3);
    await page.locator("#summary").screenshot({ path: `${shots}/inspector-health.png` });
    // A fail-within of 100 days: the three intermediates (56 days left) count as failing, the
    // roots (2036) do not; cleared, only what has expired is red again.
    assert.equal(await text("#sum-expired"), "0");
    await page.fill("#fail-within", "100");
    await page.dispatchEvent("#fail-within", "change");
    assert.equal(await text("#sum-expired"), "3");
    assert.match(await text("#summary"), /Expired or < 100 d/);
    assert.equal(await text("#sum-expiring"), "0");
    await page.fill("#fail-within", "");
    await page.dispatchEvent("#fail-within", "change");
    assert.equal(await text("#sum-expired"), "0");
    assert.equal(await text("#sum-expiring"), "3");
  });

  await step("review a rotation between two store versions", async () => {
    await page.fill("#env", "prd");
    await page.setInputFiles("#before", `${corpus}/.before.pki.enc.yaml`);
    await page.setInputFiles("#after", `${corpus}/.after.pki.enc.yaml`);
    await page.waitForSelector("#diff-summary");
    const row = page.locator('#diff tr[data-kind="intermediate-rotated"]');
    assert.equal(await row.count(), 1);
    const cells = await row.locator("td").allInnerTexts();
    assert.equal(cells[1], "wardnet-mesh");
    assert.equal(cells[2], "us-east-1");
    assert.match(cells[4], /^[0-9a-f]{64}$/);
    assert.match(cells[5], /^[0-9a-f]{64}$/);
    assert.notEqual(cells[4], cells[5]);
    assert.equal(await page.locator("#diff tbody tr").count(), 1, "a roll changes one slot only");
    // The consequences, as `inforge store diff` gives them.
    assert.match(await text("#diff-bundles"), /wardnet-mesh: global, us-east-1/);
    assert.match(await text('#diff-next li[data-op="renew"]'), /inforge pki renew prd — hosts get the new leaves/);
    await page.locator("#review").screenshot({ path: `${shots}/inspector-review.png` });
  });

  await step("two stores picked at once: the older is before, the newer after", async () => {
    await fresh();
    const dir = mkdtempSync(`${tmpdir()}/inforge-pair-`);
    const [b, a] = [`${dir}/old-pki.enc.yaml`, `${dir}/new-pki.enc.yaml`];
    copyFileSync(`${corpus}/.before.pki.enc.yaml`, b);
    copyFileSync(`${corpus}/.after.pki.enc.yaml`, a);
    utimesSync(b, 1_700_000_000, 1_700_000_000);
    utimesSync(a, 1_800_000_000, 1_800_000_000);
    // Picked newer first: the order of the picker does not decide.
    await page.setInputFiles("#files", [a, b]);
    await page.waitForSelector("#diff-summary");
    assert.match(await text("#diff-files"), /Before: old-pki\.enc\.yaml \(older\) · after: new-pki\.enc\.yaml \(newer\)/);
    assert.equal(await page.locator('#diff tr[data-kind="intermediate-rotated"]').count(), 1);
    assert.match(await text("#loaded"), /new-pki\.enc\.yaml \(store\)/);
    rmSync(dir, { recursive: true, force: true });
  });

  const bad = async (name, payload, code, more) => {
    await fresh();
    await page.setInputFiles("#files", payload);
    await page.waitForFunction(() => !document.getElementById("error").hidden);
    const err = await text("#error");
    assert.match(err, new RegExp(code), `${name}: ${err}`);
    assert.match(err, /Hint: /, `${name}: a hint`);
    if (more) assert.match(err, more);
  };
  await step("bad input: garbage bytes", () => bad("garbage", files("garbage", "store"), "store-invalid"));
  await step("bad input: binary, not UTF-8", () =>
    bad("binary", [{ name: "pki.enc.yaml", mimeType: "application/octet-stream", buffer: Buffer.from([0xff, 0xfe, 0x00, 0x81, 0xc3]) }], "file-not-utf8"));
  await step("bad input: a huge file", () =>
    bad("huge", [{ name: "pki.enc.yaml", mimeType: "text/yaml", buffer: Buffer.alloc((16 << 20) + 1, 0x61) }], "file-too-large"));
  await step("bad input: a store from a newer format version", () =>
    bad("newer", files("newer-version", "store"), "store-version", /upgrade inforge/));
  await step("bad input: a config without a store", async () => {
    await fresh();
    await page.setInputFiles("#files", files("no-store", "config", "regions"));
    await page.waitForSelector("#validation-summary");
    assert.match(await text("#loaded"), /No store loaded/);
    assert.match(await text("#diagnostics"), /store-missing/);
    assert.match(await text("#diagnostics"), /Hint: run `inforge pki init prd`/);
  });

  await step("100-PKI store: renders, validates, stays responsive", async () => {
    await fresh();
    const t0 = Date.now();
    await page.setInputFiles("#files", [`${big}/resources/prd/pki.enc.yaml`, `${big}/inforge.yaml`, `${big}/regions.yaml`]);
    await page.waitForSelector("#validation-summary");
    const loadMs = Date.now() - t0;
    assert.equal(await text("#pki-count"), "100");
    const certs = await page.locator("#tree button.cert").count();
    assert.equal(await page.locator("#timeline-svg rect.bar").count(), certs);
    assert.ok(loadMs < 5000, `load+render took ${loadMs} ms`);
    // Many PKIs: each PKI's trust matrix is its own collapsed section.
    assert.ok(await page.locator("details.matrix-pki").count() > 12);
    assert.equal(await page.locator("details.matrix-pki[open]").count(), 0);
    // The timeline lists the soonest end first.
    const ends = await page.locator("#timeline-svg rect.bar title").allTextContents();
    const endOf = (t) => Date.parse(t.split(" → ")[1].replace(/ \(revoked\)$/, ""));
    for (let i = 1; i < ends.length; i++) assert.ok(endOf(ends[i - 1]) <= endOf(ends[i]), `timeline order at ${i}`);
    // The filter narrows every section by name.
    await page.fill("#filter", "mesh-07");
    assert.equal(await text("#tree-count"), "1 of 100 PKIs");
    assert.equal(await page.locator("#tree button.cert").count(), 4);
    assert.equal(await page.locator("#timeline-svg rect.bar").count(), 4);
    assert.equal(await page.locator("table.matrix[data-pki]").count(), 1);
    await page.fill("#filter", "");
    assert.equal(await page.locator("#tree button.cert").count(), certs);
    assert.equal(await page.locator("#timeline-svg rect.bar").count(), certs);
    // validate() alone, in the page's own (already initialised) module instance: median of 7.
    const input = {
      store: readFileSync(`${big}/resources/prd/pki.enc.yaml`, "utf8"),
      config: readFileSync(`${big}/inforge.yaml`, "utf8"),
      regions: readFileSync(`${big}/regions.yaml`, "utf8"),
      now: "2026-11-26T00:00:00Z",
    };
    const ms = await page.evaluate(async (input) => {
      const m = await import("./pkg/inforge_wasm.js");
      const times = [];
      let n = 0;
      for (let i = 0; i < 7; i++) {
        const t = performance.now();
        n = m.validate(input).length;
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      return { median: times[3], min: times[0], diagnostics: n };
    }, input);
    console.log(`perf: browser validate of the 100-PKI store: median ${ms.median.toFixed(1)} ms, min ${ms.min.toFixed(1)} ms (${ms.diagnostics} diagnostics)`);
    await page.locator("#timeline").screenshot({ path: `${shots}/inspector-100-pkis-timeline.png` });
    console.log(`perf: 100-PKI store (${certs} certificates) loaded and rendered in ${loadMs} ms`);
  });

  await step("narrow screen (phone width) keeps every section usable", async () => {
    await fresh();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.setInputFiles("#files", files("rotated", "store", "config", "regions"));
    await page.waitForSelector("#validation-summary");
    // The rotated store: us-east-1's old intermediate is marked previous, in the tree and timeline.
    assert.equal(await page.locator('#tree button.cert.previous-intermediate').count(), 1);
    assert.match(await page.locator('#tree button.cert.previous-intermediate').innerText(), /us-east-1 · previous intermediate/);
    assert.equal(await page.locator("#timeline-svg rect.bar.previous-intermediate").count(), 1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    // The timeline's text keeps its size (11 px, not scaled down to fit): its box scrolls instead.
    const labelPx = await page.locator("#timeline-svg text.row-label").first().evaluate((t) => t.getBoundingClientRect().height);
    assert.ok(labelPx >= 11, `timeline labels are ${labelPx.toFixed(1)} px tall at phone width`);
    await page.screenshot({ path: `${shots}/inspector-narrow.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step("recovered store: the revoked certificate is marked, and the review says recovered", async () => {
    await fresh();
    await page.setInputFiles("#files", files("recovered", "store", "config", "regions"));
    await page.waitForSelector("#validation-summary");
    const revoked = page.locator("#tree button.cert.is-revoked");
    assert.equal(await revoked.count(), 1);
    assert.match(await revoked.innerText(), /eu-west-1 · revoked/);
    await revoked.click();
    assert.match(await text("#details"), /Revoked\s+2026-11-26T00:00:00Z \(scope eu-west-1\)/);
    assert.match(await text("#details"), /SHA-256\s+[0-9a-f]{64}/);
    await page.setInputFiles("#before", `${repo("rotated")}/resources/prd/pki.enc.yaml`);
    await page.setInputFiles("#after", `${repo("recovered")}/resources/prd/pki.enc.yaml`);
    await page.waitForSelector("#diff-summary");
    const kinds = await page.locator("#diff tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.kind));
    assert.deepEqual(kinds.sort(), ["intermediate-recovered", "revoked"]);
    await page.screenshot({ path: `${shots}/inspector-recovered.png`, fullPage: true });
  });

  await step("now follows the clock until set by hand", async () => {
    await page.clock.install({ time: new Date("2027-03-01T10:00:00Z") });
    await page.goto(`${base}/index.html`);
    await page.waitForSelector("body[data-ready=true]");
    assert.equal(await page.inputValue("#now"), "2027-03-01T10:00:00Z");
    await page.setInputFiles("#files", files("healthy", "store", "config", "regions"));
    await page.waitForSelector("#pki-count");
    const daysBefore = Number((await page.locator("#tree button.cert.root").first().innerText()).match(/(\d+) d/)[1]);
    await page.clock.fastForward("25:00:00");
    assert.equal(await page.inputValue("#now"), "2027-03-02T11:00:00Z");
    // The day changed: the views follow (one day fewer left).
    const daysAfter = Number((await page.locator("#tree button.cert.root").first().innerText()).match(/(\d+) d/)[1]);
    assert.equal(daysAfter, daysBefore - 1);
    await page.fill("#now", "2026-11-26T00:00:00Z");
    await page.clock.fastForward("02:00:00");
    assert.equal(await page.inputValue("#now"), "2026-11-26T00:00:00Z", "a time set by hand stays");
  });

  await step("no request left the page's origin", async () => {
    assert.deepEqual(offsite, []);
    assert.deepEqual(consoleErrors.filter((e) => !/Failed to load resource.*favicon/.test(e)), []);
  });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
writeFileSync(`${process.env.E2E_RESULT || "/dev/null"}`, String(passed));
console.log(`e2e: ${passed} passed`);
