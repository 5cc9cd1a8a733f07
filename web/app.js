// The inspector page: reads files locally, calls the inforge-wasm package (web/pkg/, built by
// scripts/wasm.sh) and draws the results. Every decision is the core's; this file only shows.
import init, * as inforge from "./pkg/inforge_wasm.js";

// The same bound the CLI puts on every file it reads (docs/errors.md `file-too-large`).
const MAX_FILE = 16 << 20;
const SVG = "http://www.w3.org/2000/svg";

const state = { store: null, config: null, regions: null, view: null, names: {}, pair: null };
const $ = (id) => document.getElementById(id);

/** Builds an element: h("p", {class: "x"}, "text", child…). */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
function s(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** An error from the package (`.code`, `.hint`) or the page, shown in the alert region. */
function showError(where, e) {
  const box = $("error");
  const code = e && e.code ? e.code : "page-error";
  const msg = e && e.message ? e.message.replace(new RegExp("^" + code + ": "), "") : String(e);
  box.replaceChildren(
    h("p", {}, h("strong", {}, where + ": "), h("code", { class: "code" }, code), " ", msg),
    e && e.hint ? h("p", { class: "hint" }, "Hint: ", e.hint) : "",
  );
  box.hidden = false;
}
/** An error shown where the user acted (a form's result area), with its code and hint. */
function inlineError(where, e) {
  const code = e && e.code ? e.code : "page-error";
  const msg = e && e.message ? e.message.replace(new RegExp("^" + code + ": "), "") : String(e);
  return h("div", { class: "error inline", role: "alert" },
    h("p", {}, h("strong", {}, where + ": "), h("code", { class: "code" }, code), " ", msg),
    e && e.hint ? h("p", { class: "hint" }, "Hint: ", e.hint) : "");
}
function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

/** Calls the package; failures are shown, never thrown past the page. */
function attempt(where, f) {
  try {
    return f();
  } catch (e) {
    showError(where, e);
    return undefined;
  }
}

function nowInput() {
  return $("now").value.trim() || undefined;
}
function envInput() {
  return $("env").value.trim() || undefined;
}

/** Reads a File as UTF-8 text, refusing what the CLI would refuse. */
async function readText(file) {
  if (file.size > MAX_FILE) {
    throw Object.assign(new Error(`${file.name} is larger than 16 MiB (${file.size} bytes)`), {
      code: "file-too-large",
      hint: "stores and configs are small text files: pick the right file",
    });
  }
  const bytes = await file.arrayBuffer();
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw Object.assign(new Error(`${file.name} is not UTF-8 text`), {
      code: "file-not-utf8",
      hint: "load pki.enc.yaml, inforge.yaml or regions.yaml from the infra repo",
    });
  }
}

/** Which input a file is: by name first, then by its top-level keys. The secret store
 * (`secrets.enc.yaml`: `recipient:` beside `secrets:` or `sops:`) is recognised and set aside:
 * the inspector needs no secret, and it must never be taken for the PKI store. */
function kindOf(name, text) {
  if (/pki\.enc\.ya?ml$/.test(name)) return "store";
  if (/secrets\.enc\.ya?ml$/.test(name)) return "secrets";
  if (/^inforge\.ya?ml$/.test(name)) return "config";
  if (/^regions\.ya?ml$/.test(name)) return "regions";
  if (/^(secrets|sops)\s*:/m.test(text) && !/^pkis\s*:/m.test(text)) return "secrets";
  if (/^\s*(rootRecipient|recipient|pkis|version)\s*:/m.test(text)) return "store";
  if (/^\s*baseDomain\s*:/m.test(text)) return "config";
  if (/^\s*regions\s*:/m.test(text)) return "regions";
  return "store"; // let the store parser say what is wrong with it
}

async function loadFiles(files) {
  clearError();
  if (!files.length) return;
  const got = {};
  const stores = [];
  const ignored = [];
  for (const f of files) {
    try {
      const text = await readText(f);
      const kind = kindOf(f.name, text);
      if (kind === "secrets") {
        ignored.push(f.name);
        continue;
      }
      if (kind === "store") stores.push({ f, text });
      got[kind] = text;
      state.names[kind] = f.name;
    } catch (e) {
      showError(`reading ${f.name}`, e);
      return;
    }
  }
  // A new store replaces the old one; config files loaded alone keep the store.
  if ("store" in got) {
    resetForNewStore();
    state.store = got.store;
    if (!("config" in got)) state.config = null, delete state.names.config;
    if (!("regions" in got)) state.regions = null, delete state.names.regions;
  }
  // Two stores picked together are a before and an after (older file first): the review
  // compares them and the page shows the newer one, instead of keeping one and losing the other.
  if (stores.length === 2) {
    const [b, a] = stores.sort((x, y) => x.f.lastModified - y.f.lastModified);
    state.store = a.text;
    state.names.store = a.f.name;
    state.pair = { b, a };
  } else if (stores.length > 2) {
    showError("reading the files", new Error(`${stores.length} stores picked at once: pick one, or two (before and after) to review a change`));
    return;
  } else {
    state.pair = null;
  }
  if ("config" in got) state.config = got.config;
  if ("regions" in got) state.regions = got.regions;
  render();
  if (ignored.length) {
    $("loaded").append(" ", h("span", { id: "ignored", class: "muted" },
      `Set aside: ${ignored.join(", ")} (the secret store: the inspector needs no secret).`));
  }
  if (state.pair) showReview(state.pair.b.text, state.pair.a.text, `${state.pair.b.f.name} (older)`, `${state.pair.a.f.name} (newer)`);
}

/** What showed the previous store goes with it: the selected certificate, the filter, the
 * leaf and boundary checks, the review. */
function resetForNewStore() {
  $("details").replaceChildren(h("h2", { id: "details-h" }, "Certificate"), h("p", { class: "muted" }, "Select a certificate in the hierarchy."));
  $("filter").value = "";
  $("chain").value = "";
  $("leaf-result").replaceChildren();
  $("authz-result").replaceChildren();
  $("diff").replaceChildren();
  for (const id of ["before", "after"]) $(id).value = "";
}

function render() {
  clearError();
  const names = Object.entries(state.names).map(([k, n]) => `${n} (${k})`);
  $("loaded").textContent = names.length ? `Loaded: ${names.join(", ")}.` : "No files loaded.";
  state.view = null;
  if (state.store != null) {
    state.view = attempt("reading the store", () => inforge.inspectStore(state.store, nowInput())) || null;
  } else if (state.config != null) {
    $("loaded").textContent += " No store loaded: only the config's own findings are shown.";
  }
  state.diags = computeDiagnostics();
  renderSummary();
  renderCustody();
  renderTree();
  renderTimeline();
  renderMatrix();
  renderValidation();
  renderScopes();
}

/** Validation's findings, computed once per render: the summary, the hierarchy, the timeline
 * and the validation section all show the same ones. `null` when there is nothing to check. */
function computeDiagnostics() {
  if (state.store == null && state.config == null) return null;
  const input = {};
  for (const k of ["store", "config", "regions"]) if (state[k] != null) input[k] = state[k];
  if (nowInput()) input.now = nowInput();
  if (envInput()) input.env = envInput();
  return attempt("validation", () => inforge.validate(input)) ?? null;
}

/** A certificate's health: its findings (those whose subject is its slot in the store) and its
 * expiry state — expired (red), or within the leaf TTL horizon (amber: an intermediate must
 * outlive the leaves it signs). */
function health(c) {
  const mine = (state.diags || []).filter((d) => d.subject === c.location || d.subject.startsWith(c.location + "."));
  const errors = mine.filter((d) => d.severity === "error");
  // Red: expired, or (with a fail-within set, like `pki status --fail-within`) ending sooner.
  const fw = failWithin();
  const failing = !c.revoked && (c.expired || (fw > 0 && c.daysLeft < fw));
  const expiring = !failing && !c.expired && !c.revoked && state.view && c.daysLeft <= state.view.leafDays;
  const level = errors.length || failing ? "error" : mine.length || expiring ? "warning" : "ok";
  return { level, mine, errors: errors.length, warnings: mine.length - errors.length, expiring, failing };
}

/** The fail-within threshold in days (0: only what has expired is red). */
function failWithin() {
  const n = Number($("fail-within").value);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function renderSummary() {
  const sec = $("summary");
  const v = state.view;
  if (!v) {
    sec.hidden = true;
    return;
  }
  const all = v.pkis.flatMap((p) => p.certs);
  const expired = all.filter((c) => health(c).failing).length;
  const fw = failWithin();
  const expiring = all.filter((c) => health(c).expiring).length;
  const diags = state.diags || [];
  const errors = diags.filter((d) => d.severity === "error").length;
  const warnings = diags.length - errors;
  const fact = (k, val, id, level) =>
    h("div", { class: "fact" + (level ? " " + level : "") }, h("span", { class: "k" }, k), h("strong", id ? { id } : {}, val));
  sec.replaceChildren(
    fact("Errors", errors, "sum-errors", errors ? "bad" : "good"),
    fact("Warnings", warnings, "sum-warnings", warnings ? "warn" : ""),
    fact(`Expiring (≤ ${v.leafDays} d)`, expiring, "sum-expiring", expiring ? "warn" : ""),
    fact(fw ? `Expired or < ${fw} d` : "Expired", expired, "sum-expired", expired ? "bad" : ""),
    fact("Environment", envInput() ?? v.env ?? "unknown", "sum-env"),
    fact("PKIs", v.pkis.length, "pki-count"),
    fact("Certificates", all.length),
    fact("Store format", `version ${v.version}`),
  );
  sec.hidden = false;
}

// Who holds what (the CLI's `pki custody`): the CI recipient, the offline root's recipient or
// quorum, and the keys each seals. Public facts: recipients are not secrets.
function renderCustody() {
  const sec = $("custody");
  const v = state.view;
  const c = v ? attempt("reading custody", () => inforge.custodyView(state.store, envInput() ?? v.env ?? "env")) : null;
  if (!c) {
    sec.hidden = true;
    $("custody-body").replaceChildren();
    return;
  }
  const seals = (list) => h("ul", { class: "small" }, ...list.map((k) => h("li", { class: "mono" }, k)));
  const root = c.root.quorum
    ? [h("p", { id: "custody-root" }, h("strong", {}, "Offline root: "),
        `quorum, any ${c.root.quorum.threshold} of ${c.root.quorum.custodians.length} custodians rebuild `,
        h("span", { class: "mono" }, c.root.recipient)),
       h("ol", { class: "small" }, ...c.root.quorum.custodians.map((s) =>
         h("li", {}, h("span", { class: "mono" }, s.recipient), ` (${s.kind})`)))]
    : [h("p", { id: "custody-root" }, h("strong", {}, "Offline root: "), "one identity, ", h("span", { class: "mono" }, c.root.recipient))];
  $("custody-body").replaceChildren(
    h("p", { id: "custody-ci" }, h("strong", {}, "CI: "), h("span", { class: "mono" }, c.ci.recipient)),
    seals(c.ci.seals),
    ...root,
    seals(c.root.seals),
    h("p", { class: "muted small" }, c.note));
  sec.hidden = false;
}

const ROLE = {
  root: "root",
  "previous-root": "previous root",
  intermediate: "intermediate",
  "previous-intermediate": "previous intermediate",
};

const SHORT = { root: "root", "previous-root": "prev. root", intermediate: "int.", "previous-intermediate": "prev. int." };

function badges(c) {
  return [
    c.role.startsWith("previous") ? h("span", { class: "badge prev" }, "previous") : "",
    c.revoked ? h("span", { class: "badge revoked" }, "revoked") : "",
    c.expired ? h("span", { class: "badge expired" }, "expired") : "",
  ];
}

/** Offers `text` as a file download (a blob URL: nothing leaves the page). */
function download(name, text) {
  const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" })), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
}

/** Text for screen readers only: context the button does not show (the PKI, days in words,
 * findings). The visible text stays the start of the accessible name (WCAG "label in name"). */
const sr = (t) => h("span", { class: "sr-only" }, t);

function certButton(pki, c) {
  const label = c.scope ? `${c.scope} · ${ROLE[c.role]}` : ROLE[c.role];
  const hl = health(c);
  const issues = [hl.errors ? `${hl.errors} error(s)` : "", hl.warnings ? `${hl.warnings} warning(s)` : "", hl.expiring ? "expiring" : ""]
    .filter(Boolean).join(", ");
  const mark = hl.level === "error" ? "✗ " : hl.level === "warning" ? "⚠ " : "";
  return h("button", {
    type: "button",
    class: "cert " + c.role + (c.revoked ? " is-revoked" : "") + ` health-${hl.level}`,
    "data-fp": c.fingerprint,
    "data-health": hl.level,
    title: hl.mine.map((d) => `${d.code}: ${d.message}`).join("\n") || undefined,
    onclick: () => select(pki, c),
  }, sr(`${pki.name} `), mark ? h("span", { class: "mark", "aria-hidden": "true" }, mark) : "", label, " ", ...badges(c),
  h("span", { class: "days" }, c.expired ? "" : `${c.daysLeft} d`),
  sr(`${c.expired ? "" : `, ${c.daysLeft} days left`}${issues ? ` (${issues})` : ""}`));
}

function revokedButton(pki, r) {
  return h("button", {
    type: "button", class: "cert revoked-record is-revoked", "data-fp": r.fingerprint,
    onclick: () => {
      document.querySelectorAll("button.cert[aria-pressed]").forEach((b) => b.removeAttribute("aria-pressed"));
      document.querySelectorAll(`button.cert[data-fp="${r.fingerprint}"]`).forEach((b) => b.setAttribute("aria-pressed", "true"));
      $("details").replaceChildren(
        h("h2", { id: "details-h" }, "Certificate"),
        h("p", {}, h("strong", {}, pki.name), ` · ${r.scope} revoked certificate `, h("span", { class: "badge revoked" }, "revoked")),
        h("p", { class: "muted" }, "Recorded as compromised: it is in no bundle and no slot of the store any more."),
        h("dl", { class: "kv" },
          h("dt", {}, "Subject"), h("dd", {}, r.subject),
          h("dt", {}, "SHA-256"), h("dd", { class: "mono" }, r.fingerprint),
          h("dt", {}, "Revoked"), h("dd", {}, `${r.revokedAt} (scope ${r.scope})`)));
    },
  }, sr(`${pki.name} `), `${r.scope} · revoked`, " ", h("span", { class: "badge revoked" }, "revoked"), sr(" certificate"));
}

/** The PKI-name filter, applied to every section that lists PKIs. */
function pkiShown(name) {
  const needle = $("filter").value.trim().toLowerCase();
  return !needle || name.toLowerCase().includes(needle);
}

function renderTree() {
  const tree = $("tree");
  const v = state.view;
  $("tree-empty").hidden = !!v;
  if (!v) {
    tree.replaceChildren();
    return;
  }
  const shown = v.pkis.filter((p) => pkiShown(p.name));
  const pkis = shown.map((p) => {
    const root = p.certs.find((c) => c.role === "root");
    const prevRoots = p.certs.filter((c) => c.role === "previous-root");
    const scopes = [...new Set([...p.certs.filter((c) => c.scope).map((c) => c.scope), ...p.revoked.map((r) => r.scope)])].sort();
    // A revoked certificate left the store's slots; its record (fingerprint, subject, when) stays.
    const shownFp = new Set(p.certs.map((c) => c.fingerprint));
    const perScope = scopes.map((sc) => {
      const cur = p.certs.filter((c) => c.scope === sc && c.role === "intermediate");
      const prev = p.certs.filter((c) => c.scope === sc && c.role === "previous-intermediate");
      const gone = p.revoked.filter((r) => r.scope === sc && !shownFp.has(r.fingerprint));
      const older = [...prev.map((c) => h("li", {}, certButton(p, c))), ...gone.map((r) => h("li", { class: "revoked-record" }, revokedButton(p, r)))];
      return h("li", { class: "scope" }, ...cur.map((c) => certButton(p, c)), older.length ? h("ul", {}, ...older) : "");
    });
    const problems = p.unreadable.map((u) => h("li", { class: "problem" }, h("code", {}, u.code), " ", u.location));
    return h("li", { class: "pki" },
      h("details", { open: v.pkis.length <= 12 },
        h("summary", {}, h("span", { class: "pki-name" }, p.name), " ",
          h("span", { class: "muted" }, `${p.topology}, ${p.algorithm}`),
          p.rootOverlap
            ? h("span", { class: "badge prev" },
                p.rootPhase === "switched" ? `root overlap: switched ${p.rootSwitchedAt ?? ""}` : "root overlap: previous root's path first")
            : ""),
        h("ul", {},
          root ? h("li", {}, certButton(p, root), perScope.length ? h("ul", {}, ...perScope) : "") : "",
          ...prevRoots.map((c) => h("li", {}, certButton(p, c))),
          ...problems)));
  });
  tree.replaceChildren(
    h("p", { class: "muted small", id: "tree-count" }, `${shown.length} of ${v.pkis.length} PKIs`),
    h("ul", { class: "tree", "aria-label": "PKIs" }, ...pkis));
}

/** A definition-list row: key, value ("—" when missing). */
function row(k, v, cls) {
  return [h("dt", {}, k), h("dd", cls ? { class: cls } : {}, v ?? "—")];
}

/** A certificate's details as rows, shared by the store's certificate panel and the paste box. */
function certRows(c) {
  return [
    row("Subject", c.subject),
    row("Issuer", c.issuer),
    row("Serial", c.serial, "mono"),
    row("Not before", c.notBefore),
    row("Not after", `${c.notAfter} (${c.expired ? "expired" : c.daysLeft + " days left"})`),
    row("SHA-256", c.fingerprint, "mono"),
    row("Algorithm", c.algorithm),
    row("CA / path length", `${c.isCa ? "CA" : "not a CA"}${c.pathLen != null ? ", pathLen " + c.pathLen : ""}`),
    row("Subject key ID", c.subjectKeyId, "mono"),
    row("Authority key ID", c.authorityKeyId, "mono"),
    row("SANs", [...c.uriSans, ...c.dnsSans].join(", ") || "none"),
  ];
}

function select(pki, c) {
  document.querySelectorAll("button.cert[aria-pressed]").forEach((b) => b.removeAttribute("aria-pressed"));
  document.querySelectorAll(`button.cert[data-fp="${c.fingerprint}"]`).forEach((b) => b.setAttribute("aria-pressed", "true"));
  $("details").replaceChildren(
    h("h2", { id: "details-h" }, "Certificate"),
    h("p", {}, h("strong", {}, pki.name), " · ", c.scope ? `${c.scope} ` : "", ROLE[c.role], " ", ...badges(c)),
    h("dl", { class: "kv" },
      ...certRows(c),
      row("In the store at", c.location, "mono"),
      c.revoked ? row("Revoked", `${c.revoked.revokedAt} (scope ${c.revoked.scope})`) : [],
    ),
    h("button", { type: "button", id: "download-cert",
      onclick: () => download(`${pki.name}-${c.scope ? c.scope + "-" : ""}${c.role}.pem`, c.pem) }, "Download certificate (PEM)"),
  );
}

/** The expiry timeline: one bar per certificate, now and the leaf-TTL horizon as lines. */
function renderTimeline() {
  const box = $("timeline-chart");
  const v = state.view;
  if (!v) {
    box.replaceChildren(h("p", { class: "muted" }, "Load a store."));
    return;
  }
  // Soonest end first: what needs attention is at the top.
  const rows = v.pkis.filter((p) => pkiShown(p.name)).flatMap((p) => p.certs.map((c) => ({ p, c })))
    .sort((a, b) => Date.parse(a.c.notAfter) - Date.parse(b.c.notAfter));
  if (!rows.length) {
    box.replaceChildren(h("p", { class: "muted" }, v.pkis.length ? "No PKI matches the filter." : "The store has no certificates."));
    return;
  }
  const t = (x) => Date.parse(x);
  const now = t(v.now);
  const horizon = now + v.leafDays * 86400e3;
  const lo = Math.min(now, ...rows.map((r) => t(r.c.notBefore)));
  const hi = Math.max(horizon, ...rows.map((r) => t(r.c.notAfter)));
  const W = 900, left = 250, right = 20, rowH = 18, top = 50;
  const H = top + rows.length * rowH + 10;
  const x = (ms) => left + ((ms - lo) / (hi - lo)) * (W - left - right);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-labelledby": "tl-title tl-desc", id: "timeline-svg" });
  svg.append(s("title", { id: "tl-title" }, "Expiry timeline"));
  svg.append(s("desc", { id: "tl-desc" },
    `${rows.length} certificates from ${new Date(lo).toISOString().slice(0, 10)} to ${new Date(hi).toISOString().slice(0, 10)}; now is ${v.now}; the leaf TTL horizon (${v.leafDays} days) is ${new Date(horizon).toISOString().slice(0, 10)}.`));
  // Year ticks.
  const y0 = new Date(lo).getUTCFullYear() + 1, y1 = new Date(hi).getUTCFullYear();
  const step = Math.max(1, Math.ceil((y1 - y0 + 1) / 10));
  for (let y = y0; y <= y1; y += step) {
    const xx = x(Date.UTC(y, 0, 1));
    svg.append(s("line", { x1: xx, x2: xx, y1: top - 6, y2: H, class: "tick" }));
    svg.append(s("text", { x: xx, y: top - 9, class: "tick-label", "text-anchor": "middle" }, y));
  }
  rows.forEach(({ p, c }, i) => {
    const y = top + i * rowH;
    const label = `${p.name} ${c.scope ? c.scope + " " : ""}${ROLE[c.role]}`;
    const short = `${p.name} ${c.scope ? c.scope + " " : ""}${SHORT[c.role]}`;
    const cls = "bar " + c.role + (c.revoked ? " revoked" : "") + (c.expired ? " expired" : "") + ` health-${health(c).level}`;
    const g = s("g", { class: "tl-row", "data-fp": c.fingerprint });
    g.append(s("text", { x: left - 6, y: y + 12, class: "row-label", "text-anchor": "end" }, short.length > 38 ? short.slice(0, 37) + "…" : short));
    const bar = s("rect", { x: x(t(c.notBefore)), y: y + 3, width: Math.max(2, x(t(c.notAfter)) - x(t(c.notBefore))), height: rowH - 6, rx: 3, class: cls });
    bar.append(s("title", {}, `${label}: ${c.notBefore} → ${c.notAfter}${c.revoked ? " (revoked)" : ""}`));
    g.append(bar);
    svg.append(g);
  });
  for (const [ms, cls, text] of [[now, "now", "now"], [horizon, "horizon", `leaf TTL +${v.leafDays} d`]]) {
    svg.append(s("line", { x1: x(ms), x2: x(ms), y1: top - 4, y2: H, class: "mark " + cls }));
    svg.append(s("text", { x: x(ms) + 3, y: cls === "horizon" ? 28 : 13, class: "mark-label " + cls }, text));
  }
  const legend = h("p", { class: "legend" },
    h("span", { class: "key root" }), "root ", h("span", { class: "key intermediate" }), "intermediate ",
    h("span", { class: "key previous" }), "previous ", h("span", { class: "key revoked" }), "revoked ",
    h("span", { class: "key now" }), "now ", h("span", { class: "key horizon" }), "leaf TTL horizon");
  box.replaceChildren(legend, h("div", { class: "chart-scroll" }, svg));
}

function matrixInput() {
  const i = { store: state.store };
  if (state.config != null) i.config = state.config;
  if (state.regions != null) i.regions = state.regions;
  if (envInput()) i.env = envInput();
  return i;
}

function renderMatrix() {
  const box = $("matrix");
  if (!state.view) {
    box.replaceChildren(h("p", { class: "muted" }, "Load a store (and regions.yaml for its regions)."));
    return;
  }
  const m = attempt("trust matrix", () => inforge.trustMatrix(matrixInput()));
  if (!m) {
    box.replaceChildren();
    return;
  }
  state.scopes = m.scopes;
  const many = m.pkis.length > 12;
  const tables = m.pkis.filter((p) => pkiShown(p.name)).map((p) => {
    const table = h("table", { class: "matrix", "data-pki": p.name },
    h("caption", {}, `${p.name}: which scope's bundle trusts which scope's intermediates (the TLS handshake)`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "bundle of ↓ / trusts →"), ...m.scopes.map((sc) => h("th", { scope: "col" }, sc)))),
    h("tbody", {}, ...p.rows.map((r) => h("tr", {},
      h("th", { scope: "row" }, r.scope, r.error ? "" : [" ", h("button", {
        type: "button", class: "link download-bundle", "data-scope": r.scope,
        onclick: () => {
          const pem = attempt("the bundle", () => inforge.scopeBundle({ ...matrixInput(), pki: p.name, scope: r.scope }));
          if (pem != null) download(`${p.name}-${r.scope}-bundle.pem`, pem);
        },
      }, h("span", { class: "sr-only" }, `${p.name} ${r.scope} `), "bundle.pem")]),
      ...(r.error
        ? [h("td", { colspan: m.scopes.length, class: "na" }, h("code", {}, r.error.code), " ", r.error.message)]
        : r.cells.map((c) => c.error
          // One bad intermediate marks the cells of the bundles that would carry it.
          ? h("td", { class: "na cell-error", title: c.error.message, "data-code": c.error.code }, "⚠ ", h("code", {}, c.error.code))
          : h("td", { class: c.trusted ? "yes" : "no", title: c.fingerprints.join("\n") }, c.trusted ? "✓ trusts" : "✗ no")))))),
    );
    // Many PKIs: one collapsed section each, so the page stays short.
    return many ? h("details", { class: "matrix-pki" }, h("summary", {}, p.name), table) : table;
  });
  const boundary = h("table", { class: "matrix", id: "boundary" },
    h("caption", {}, `Boundary rule (authorization on the peer's SPIFFE scope) in ${m.env}`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "caller ↓ / callee →"), ...m.scopes.map((sc) => h("th", { scope: "col" }, sc)))),
    h("tbody", {}, ...m.scopes.map((caller) => h("tr", {}, h("th", { scope: "row" }, caller),
      ...m.scopes.map((callee) => {
        const b = m.boundary.find((x) => x.caller === caller && x.callee === callee);
        return h("td", { class: b.allowed ? "yes" : "no", title: b.reason }, b.allowed ? "✓ allowed" : "✗ refused");
      })))));
  box.replaceChildren(...(tables.length ? tables : [h("p", { class: "muted" }, "No two-tier PKI: nothing to trust by scope.")]), boundary);
}

function renderValidation() {
  const box = $("diagnostics");
  if (state.store == null && state.config == null) {
    box.replaceChildren(h("p", { class: "muted" }, "Load a store or a config."));
    return;
  }
  const diags = state.diags;
  if (!diags) {
    box.replaceChildren();
    return;
  }
  const errors = diags.filter((d) => d.severity === "error").length;
  const note = state.config == null ? " (store checks only: load inforge.yaml for the service checks)" : "";
  box.replaceChildren(
    h("p", { id: "validation-summary", class: errors ? "bad" : "good" },
      errors ? `✗ ${errors} error(s), ${diags.length - errors} warning(s)` : `✓ no errors, ${diags.length} warning(s)`, note),
    diags.length ? h("ul", { class: "diags" }, ...diags.map((d) => h("li", { class: d.severity },
      h("span", { class: "sev" }, d.severity), " ", h("code", { class: "code" }, d.code), " ",
      h("span", { class: "where" }, `${d.file} · ${d.subject}`),
      h("p", {}, d.message),
      d.hint ? h("p", { class: "hint" }, "Hint: ", d.hint) : ""))) : "",
  );
}

function renderScopes() {
  const sel = $("leaf-scope");
  const keep = sel.value;
  sel.replaceChildren(h("option", { value: "" }, "the leaf's own scope"), ...(state.scopes || []).map((sc) => h("option", { value: sc }, sc)));
  sel.value = (state.scopes || []).includes(keep) ? keep : "";
}

function checkLeaf(ev) {
  ev.preventDefault();
  clearError();
  const box = $("leaf-result");
  if (state.store == null) {
    box.replaceChildren(h("p", { class: "bad" }, "Load a store first."));
    return;
  }
  const input = { ...matrixInput(), chainPem: $("chain").value };
  if ($("leaf-scope").value) input.scope = $("leaf-scope").value;
  if (nowInput()) input.now = nowInput();
  let r;
  try {
    r = inforge.checkLeaf(input);
  } catch (e) {
    // Next to the control that caused it, not in the alert at the top of the page.
    box.replaceChildren(inlineError("checking the leaf", e));
    return;
  }
  box.replaceChildren(
    h("p", { id: "leaf-verdict", class: r.ok ? "good" : "bad" },
      r.ok ? `✓ trusted by ${r.scope}'s bundle (${r.pki})` : `✗ not trusted by ${r.scope}'s bundle`,
      r.spiffeId ? ` · ${r.spiffeId}` : ""),
    h("ul", { class: "checks" }, ...r.checks.map((c) => h("li", { class: c.ok ? "good" : "bad" },
      c.ok ? "✓ " : "✗ ", h("code", {}, c.check), " ", c.detail))),
    h("p", { class: "mono small" }, `leaf SHA-256 ${r.leaf.fingerprint}`),
  );
}

/** The paste box: any PEM certificates, no store needed (like `step certificate inspect`). */
function inspectPem(ev) {
  ev.preventDefault();
  clearError();
  const box = $("pem-result");
  let certs;
  try {
    certs = inforge.inspectPem($("pem-paste").value, nowInput() || new Date());
  } catch (e) {
    box.replaceChildren(inlineError("reading the PEM", e));
    return;
  }
  box.replaceChildren(
    h("p", { id: "pem-count" }, `${certs.length} certificate${certs.length === 1 ? "" : "s"}`),
    ...certs.map((c, i) => h("div", { class: "pem-cert", "data-fp": c.fingerprint },
      h("h3", {}, `${i + 1}. ${ROLE[c.role] || c.role}`, " ", ...badges(c)),
      h("dl", { class: "kv" }, ...certRows(c)))),
  );
}

function authorize(ev) {
  ev.preventDefault();
  clearError();
  let r;
  try {
    r = inforge.authorize($("caller").value, $("callee").value);
  } catch (e) {
    $("authz-result").replaceChildren(inlineError("the boundary rule", e));
    return;
  }
  $("authz-result").replaceChildren(h("span", { class: r.allowed ? "good" : "bad" }, r.allowed ? "✓ allowed: " : "✗ refused: ", r.reason));
}

const KIND = {
  "pki-added": "PKI added", "pki-removed": "PKI removed", "intermediate-minted": "intermediate minted",
  "intermediate-rotated": "intermediate rotated (old one kept in bundles)",
  "intermediate-resigned": "intermediate re-signed by the new root (same key)", "intermediate-recovered": "intermediate recovered (old one revoked)",
  "intermediate-replaced": "intermediate replaced without overlap", "intermediate-removed": "intermediate removed",
  "previous-intermediate-dropped": "previous intermediate dropped from bundles", "root-overlap-started": "root rotated: overlap started",
  "root-switched": "root overlap switched: chains put the new root's path first",
  "root-finalized": "root overlap finalized (previous root dropped)", "root-replaced": "root replaced without overlap",
  revoked: "certificate revoked", "leaf-revoked": "leaf revoked (listed in the CRLs from the next renew)", "recipient-changed": "recipient changed", "quorum-changed": "root quorum changed",
};

/** Reads the review's two file inputs, then shows the review. */
async function review() {
  clearError();
  const [b, a] = [$("before").files[0], $("after").files[0]];
  if (!b || !a) {
    $("diff").replaceChildren(h("p", { class: "muted" }, `Load the ${b ? "after" : "before"} version too.`));
    return;
  }
  let bt, at;
  try {
    [bt, at] = [await readText(b), await readText(a)];
  } catch (e) {
    showError("reading the versions", e);
    return;
  }
  showReview(bt, at, b.name, a.name);
}

/** The change review (the same core function as `inforge store diff`). */
function showReview(bt, at, bName, aName) {
  const box = $("diff");
  const d = attempt("comparing the versions", () => inforge.reviewStores(bt, at, envInput() ?? state.view?.env ?? undefined));
  if (!d) {
    box.replaceChildren();
    return;
  }
  const fp = (f) => (f ? h("code", { class: "fp", title: f }, f) : "—");
  const bundles = {};
  for (const x of d.bundles) (bundles[x.pki] ??= []).push(x.scope ?? "roots");
  box.replaceChildren(
    h("p", { class: "muted", id: "diff-files" }, `Before: ${bName} · after: ${aName}`),
    h("p", { id: "diff-summary" }, d.unchanged ? "No certificate, custody or revocation changed."
      : `${d.changes.length} change(s)${d.warnings.length ? `, ${d.warnings.length} warning(s)` : ""}:`),
    d.warnings.length ? h("ul", { id: "diff-warnings", class: "checks" }, ...d.warnings.map((w) => h("li", { class: "bad", "data-code": w.code },
      "⚠ ", h("code", {}, w.code), ` ${w.pki ? `${w.pki} ` : ""}${w.slot}: ${w.message}`))) : "",
    d.changes.length ? h("table", { class: "diff" },
      h("thead", {}, h("tr", {}, ...["Change", "PKI", "Scope", "Subject", "Before (SHA-256)", "After (SHA-256)"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...d.changes.map((c) => h("tr", { class: c.kind, "data-kind": c.kind },
        h("td", {}, KIND[c.kind] || c.kind), h("td", {}, c.pki), h("td", {}, c.scope ?? ""), h("td", {}, c.subject),
        h("td", {}, fp(c.before)), h("td", {}, fp(c.after)))))) : "",
    d.bundles.length ? h("p", { id: "diff-bundles" }, "Bundles that change (hosts trust anew after the next renew): ",
      Object.entries(bundles).map(([p, l]) => `${p}: ${l.join(", ")}`).join("; ")) : "",
    d.next.length ? h("div", { id: "diff-next" }, h("h3", {}, "Next steps"),
      h("ol", {}, ...d.next.map((n) => h("li", { "data-op": n.step.op },
        n.from ? `from ${n.from}: ` : "", h("code", {}, n.command), ` — ${n.why}`)))) : "",
  );
}

function wire() {
  const input = $("files");
  input.addEventListener("change", () => loadFiles([...input.files]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    loadFiles([...e.dataTransfer.files]);
  });
  $("refresh").addEventListener("click", render);
  $("fail-within").addEventListener("change", () => { if (state.view) render(); });
  $("filter").addEventListener("input", () => {
    renderTree();
    renderTimeline();
    renderMatrix();
  });
  $("authz").addEventListener("submit", authorize);
  $("leaf-form").addEventListener("submit", checkLeaf);
  $("pem-form").addEventListener("submit", inspectPem);
  $("before").addEventListener("change", review);
  $("after").addEventListener("change", review);
}

function isoNow() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** "now" follows the clock (checked each minute) until the user types a time of their own;
 * the views are redrawn when the day changes (days left are whole days). */
function tickNow() {
  let byHand = false;
  $("now").addEventListener("input", () => { byHand = true; });
  setInterval(() => {
    if (byHand) return;
    const before = $("now").value;
    const next = isoNow();
    $("now").value = next;
    if (before.slice(0, 10) !== next.slice(0, 10) && (state.store != null || state.config != null)) render();
  }, 60_000);
}

async function main() {
  $("now").value = isoNow();
  tickNow();
  wire();
  try {
    await init();
    document.body.dataset.ready = "true";
  } catch (e) {
    showError("loading the WebAssembly module", e);
  }
}

main();
