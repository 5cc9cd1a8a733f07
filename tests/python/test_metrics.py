"""Metrics (SPEC §11, docs/metrics.md): `pki status --format prometheus` and
`inforge-bootstrap --metrics-file`, checked with independent tools: every sample against pyca's
reading of the certificate it stands for, every file with `promtool check metrics`, and one
live monitoring loop (Debian's node_exporter reading the textfile directory, Prometheus
scraping it and evaluating the shipped alerting rules), started here on 127.0.0.1 and stopped
by PID."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from cryptography import x509

from support import BIN, ROOT, Repo, initialize, new_repo, tool

BOOTSTRAP = BIN.parent / "inforge-bootstrap"
RULES = ROOT / "deploy" / "prometheus" / "inforge-alerts.yml"
FAMILY = "inforge_certificate_expiration_timestamp_seconds"
SAMPLE = re.compile(r'^([a-z_]+)\{(.*)\} (-?[0-9]+)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')

Labels = Tuple[Tuple[str, str], ...]


def samples(text: str) -> Dict[Tuple[str, Labels], int]:
    """Parses an exposition (only what inforge writes: labelled integer samples); a duplicate
    series fails the test."""
    out: Dict[Tuple[str, Labels], int] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"unexpected line: {line!r}"
        key = (m.group(1), tuple(sorted(LABEL.findall(m.group(2)))))
        assert key not in out, f"duplicate series {key}"
        out[key] = int(m.group(3))
    return out


def promtool_check(path: Path) -> None:
    with path.open("rb") as f:
        p = subprocess.run([tool("promtool"), "check", "metrics"], stdin=f, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def not_after(pem: bytes) -> int:
    """The first certificate's notAfter, by pyca."""
    return int(x509.load_pem_x509_certificates(pem)[0].not_valid_after_utc.timestamp())


def leaves(provider: Path) -> Dict[Tuple[str, str], int]:
    """(service, scope) → the leaf's notAfter, for every set in a dir provider."""
    out = {}
    for cert in provider.glob("*/mtls/*/cert.pem"):
        if cert.parent.name.startswith("."):
            continue  # the dir provider's hidden slots; the scope link names the live one
        out[(cert.parent.parent.parent.name, cert.parent.name)] = not_after(cert.read_bytes())
    return out


def store_certs(store: str) -> List[int]:
    """The notAfter of every certificate PEM in the store text (keys are age armor)."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", store, re.S)
    cleaned = ["\n".join(line.strip() for line in b.splitlines()) + "\n" for b in blocks]
    return sorted(not_after(b.encode()) for b in cleaned)


def status_prom(repo: Repo, out: Path, env: Dict[str, str] | None = None) -> int:
    run = repo.cmd("pki", "status", "prd", "--format", "prometheus", "--out", str(out), env=env)
    assert run.stdout == "", "with --out nothing goes to stdout"
    return run.code


def test_status_exposition_matches_every_certificate(renewed: Repo, tmp_path: Path) -> None:
    out = tmp_path / "inforge.prom"
    assert status_prom(renewed, out) == 0
    assert out.stat().st_mode & 0o777 == 0o644
    promtool_check(out)
    got = samples(out.read_text())
    expiry = {(dict(k)["service"], dict(k)["scope"]): v
              for (name, k), v in got.items() if name == FAMILY and dict(k)["kind"] == "leaf"}
    want = leaves(renewed.provider)
    assert want and expiry == want, "one leaf sample per set, equal to the leaf's notAfter"
    ca = sorted(v for (name, k), v in got.items() if name == FAMILY and dict(k)["kind"] != "leaf")
    assert ca == store_certs(renewed.store_path.read_text()), "one sample per store certificate"
    labels = {dict(k)["kind"]: dict(k) for (name, k), _ in got.items() if name == FAMILY}
    assert labels["root"]["scope"] == "" and labels["root"]["service"] == ""
    assert set(labels["leaf"]) == {"env", "pki", "kind", "scope", "service", "state", "serial"}
    assert got[("inforge_status_problem_sets", (("env", "prd"),))] == 0
    assert got[("inforge_root_phase", (("env", "prd"), ("phase", "stable"), ("pki", "wardnet-mesh")))] == 1
    now = int(datetime(2026, 11, 22, 12, tzinfo=timezone.utc).timestamp())
    assert got[("inforge_status_timestamp_seconds", (("env", "prd"),))] == now


def test_status_exposition_counts_problems_and_is_written_on_failure(renewed: Repo, tmp_path: Path) -> None:
    (renewed.provider / "api" / "mtls" / "global" / "key.pem").unlink()
    os.remove(next(renewed.provider.glob("web/mtls/eu-west-1/cert.pem")))
    out = tmp_path / "inforge.prom"
    assert status_prom(renewed, out) != 0, "problems still fail the command"
    promtool_check(out)
    got = samples(out.read_text())
    assert got[("inforge_status_problem_sets", (("env", "prd"),))] == 2
    codes = {dict(k)["code"]: v for (name, k), v in got.items() if name == "inforge_status_problems"}
    assert sum(codes.values()) >= 2 and codes, codes


def test_a_failed_status_leaves_the_previous_file(renewed: Repo, tmp_path: Path) -> None:
    (tmp_path / "textfile").mkdir()
    out = tmp_path / "textfile" / "inforge.prom"
    assert status_prom(renewed, out) == 0
    before = out.read_bytes()
    renewed.write("inforge.yaml", renewed.read("inforge.yaml") + "\nbogus: [\n")
    assert status_prom(renewed, out) != 0
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == ["inforge.prom"], "no temp file left"


def bootstrap(repo: Repo, runtime: Path, metrics: Path, service: str = "api") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BOOTSTRAP), "project", "--service", service, "--scope", "global", "--runtime-dir", str(runtime),
         "--provider-dir", str(repo.provider), "--allow-persistent", "--metrics-file", str(metrics),
         "--metrics-env", "prd"],
        capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
    )


def test_bootstrap_metrics_file(renewed: Repo, tmp_path: Path) -> None:
    assert BOOTSTRAP.is_file(), f"{BOOTSTRAP} is missing: cargo build -p inforge-bootstrap"
    runtime, metrics = tmp_path / "run", tmp_path / "api.prom"
    runtime.mkdir(mode=0o700)
    p = bootstrap(renewed, runtime, metrics)
    assert p.returncode == 0, p.stderr
    promtool_check(metrics)
    got = samples(metrics.read_text())
    leaf = not_after((runtime / "cert.pem").read_bytes())
    exp = [(dict(k), v) for (name, k), v in got.items() if name == FAMILY]
    assert len(exp) == 1 and exp[0][1] == leaf
    assert exp[0][0]["kind"] == "leaf" and exp[0][0]["service"] == "api" and exp[0][0]["env"] == "prd"
    ids = (("env", "prd"), ("scope", "global"), ("service", "api"))
    success = got[("inforge_bootstrap_last_success_timestamp_seconds", ids)]
    assert abs(success - time.time()) < 120
    assert got[("inforge_bootstrap_failures_total", ids)] == 0
    # The provider loses the set: the projection fails, the count goes up, the rest is kept.
    for f in (renewed.provider / "api" / "mtls" / "global").iterdir():
        f.unlink()
    for _ in range(2):
        assert bootstrap(renewed, runtime, metrics).returncode != 0
    promtool_check(metrics)
    after = samples(metrics.read_text())
    assert after[("inforge_bootstrap_failures_total", ids)] == 2
    assert after[("inforge_bootstrap_last_success_timestamp_seconds", ids)] == success
    assert [v for (name, _), v in after.items() if name == FAMILY] == [leaf]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read()) if "/api/" in url else r.read()


def wait_for(what: str, check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as e:
            last = e
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@pytest.fixture
def monitoring(tmp_path: Path) -> Iterator[Tuple[Path, str]]:
    """node_exporter (textfile collector only) and Prometheus scraping it every second with
    the shipped rules, `for:` shortened to 0s so an alert fires within seconds (promtool's
    unit tests hold the real durations). Yields (textfile dir, Prometheus URL)."""
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    ne_port, prom_port = free_port(), free_port()
    rules = tmp_path / "rules.yml"
    rules.write_text(re.sub(r"for: [0-9]+[smhd]", "for: 0s", RULES.read_text()))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{rules}]\n"
        f"scrape_configs: [{{job_name: node, static_configs: [{{targets: ['127.0.0.1:{ne_port}']}}]}}]\n"
    )
    procs = [
        subprocess.Popen(
            [tool("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{ne_port}",
             "--collector.disable-defaults", "--collector.textfile",
             f"--collector.textfile.directory={textfiles}"],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "node-exporter.log", "w"),
        ),
        subprocess.Popen(
            [tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"),
        ),
    ]
    url = f"http://127.0.0.1:{prom_port}"
    try:
        wait_for("node_exporter", lambda: get(f"http://127.0.0.1:{ne_port}/metrics"))
        wait_for("prometheus", lambda: get(f"{url}/-/ready"))
        yield textfiles, url
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)


def query(url: str, q: str) -> List[Dict[str, Any]]:
    r = get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    assert r["status"] == "success", r
    return list(r["data"]["result"])


def firing(url: str, name: str) -> List[Dict[str, Any]]:
    alerts = get(f"{url}/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_live_prometheus_sees_the_expiry_and_alerts_when_the_clock_moves(
    tmp_path: Path, monitoring: Tuple[Path, str]
) -> None:
    textfiles, url = monitoring
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    now = datetime.now(timezone.utc)
    # A repo whose CAs were made 86 days ago, so leaves can be minted in the past.
    repo = new_repo(tmp_path / "live")
    repo.now = (now - timedelta(days=86)).strftime(stamp)
    initialize(repo)
    real = {"INFORGE_NOW": now.strftime(stamp)}
    ci = {"INFORGE_SECRETS_KEY": repo.ci}
    # Fresh leaves minted now: Prometheus answers the expiry query; no expiry alert.
    repo.cmd("pki", "renew", "prd", env={**ci, **real}).ok()
    assert status_prom(repo, textfiles / "inforge.prom", env=real) == 0
    want = leaves(repo.provider)[("api", "global")]
    q = f'{FAMILY}{{kind="leaf",service="api",scope="global",env="prd"}}'
    result = wait_for("the expiry sample", lambda: query(url, q))
    assert len(result) == 1 and int(float(result[0]["value"][1])) == want
    time.sleep(3)  # a few evaluations
    assert firing(url, "InforgeLeafExpiring") == []
    # The clock moves: leaves minted 85 days ago have 5 days left now.
    past = {"INFORGE_NOW": (now - timedelta(days=85)).strftime(stamp)}
    repo.cmd("pki", "renew", "prd", env={**ci, **past}).ok()
    assert status_prom(repo, textfiles / "inforge.prom", env=real) != 0, "leaves within 7 days are problems"
    alerts = wait_for("InforgeLeafExpiring to fire", lambda: firing(url, "InforgeLeafExpiring"))
    fired = {(a["labels"]["service"], a["labels"]["scope"]) for a in alerts}
    assert fired == set(leaves(repo.provider)) and ("api", "global") in fired
    assert wait_for("InforgeStatusProblems", lambda: firing(url, "InforgeStatusProblems"))


def test_python_status_is_the_cli_json(renewed: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    import inforge

    (renewed.provider / "api" / "mtls" / "global" / "key.pem").unlink()
    cli = json.loads(renewed.cmd("pki", "status", "prd", "--json", "--fail-within", "30d").stdout)
    monkeypatch.setenv("INFORGE_NOW", renewed.now or "")
    got = inforge.status(renewed.dir, "prd", fail_within="30d")
    assert got == cli and got["ok"] is False and got["problemSets"] == 1
    when = datetime(2027, 2, 15, tzinfo=timezone.utc)  # 5 days before the leaves end
    late = inforge.status(renewed.dir, "prd", now=when)
    assert {p["code"] for s in late["sets"] for p in s["problems"]} >= {"leaf-expiring"}
    with pytest.raises(inforge.TimeError) as e:
        inforge.status(renewed.dir, "prd", fail_within="soon")
    assert e.value.code and "fail_within" in str(e.value)
