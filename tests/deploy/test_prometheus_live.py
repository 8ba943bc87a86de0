"""A real Prometheus (the Debian package) with the shipped prometheus.yml and rules, scraping a real gate
and a real runner with ``Authorization: Bearer`` and the read-only metrics token: every target is up,
every rule evaluates, a scraper with a wrong token is refused by both (the gate counts it under
``scope="metrics"`` without feeding the auth-failure alert), every dashboard query runs (stat panels with
a value), and stopping the gate raises AuroraGateDown and, from the runner's side, AuroraRunnerGateUnreachable.
The runner is registered the way one-click does it: the address from its RUNNER.START, as file_sd."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from oneclick.prometheus_targets import file_sd, target_of, write_file_sd
from tests.deploy.test_grafana_dashboard import DASHBOARD, concrete, is_runner_panel

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not on PATH (Debian package: prometheus; apt-get install prometheus)",
)

API = "apitok-PromLive-Hj4Kl7Zx2Cv5"
OPS = "opstok-PromLive-Qw8Er2Ty5Ui9Op3As6Df1Gh4Jk7"
METRICS = "metricstok-PromLive-Bn6Mq1Wz8Xe3"
#: Prometheus' web server log line once it accepts connections (with the port it picked for :0).
LISTENING = re.compile(r'msg="Listening on" address=([0-9.]+:[0-9]+)')
ZERO_TIME = "0001-01-01T00:00:00Z"


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 60.0, every: float = 0.25) -> Any:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it does not end in time (a child of this test only)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def gate(project: Path, tmp_path: Path, test_secrets: set[str]) -> Iterator[tuple[subprocess.Popen, str]]:
    test_secrets.add(METRICS)
    env = {**child_env(project), "OPS_TOKEN": OPS}
    proc = subprocess.Popen(
        [sys.executable, "-m", "auroractl", "start-api", "--host", "127.0.0.1", "--port", "0", "--mode", "testnet",
         "--session", str(tmp_path / "session"), "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=project,
    )  # fmt: skip
    try:
        line = proc.stdout.readline().decode()
        m = re.search(r"gate listening on http://([0-9.]+:[0-9]+)", line)
        assert m, f"the gate did not start: {line!r}"
        yield proc, m.group(1)
    finally:
        stop(proc)


def child_env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "OPS_TOKEN"))}
    env.update(AURORA_ROOT=str(project), NO_COLOR="1", AURORA_API_TOKEN=API, AURORA_METRICS_TOKEN=METRICS)
    return env


@pytest.fixture
def runner(project: Path, tmp_path: Path, gate) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """``auroractl run-runner`` trading against the gate, its /metrics on a free port behind the metrics
    token; registered as one-click does (RUNNER.START's address, written as file_sd)."""
    _, gate_addr = gate
    session = tmp_path / "runner-session"
    busy = Path(__file__).resolve().parents[1] / "fixtures" / "e2e_busy_overlay.yaml"
    log = tmp_path / "runner.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "auroractl", "run-runner", "--venue", "paper", "--gate-url", f"http://{gate_addr}",
             "--overlay", str(busy), "--duration", "300s", "--session", str(session), "--metrics-port", "0"],
            stdout=fh, stderr=subprocess.STDOUT, env=child_env(project), cwd=project,
        )  # fmt: skip
    try:

        def announced() -> str | None:
            if proc.poll() is not None:
                raise AssertionError(f"the runner exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            events = session / "runner_events.jsonl"
            if not events.is_file():
                return None
            for line in events.read_bytes().splitlines():
                rec = json.loads(line)
                if rec["event_code"] == "RUNNER.START":
                    return rec["details"]["metrics"]["url"]
            return None

        url = wait_for("the runner's RUNNER.START", announced)
        file_sd_path = tmp_path / "prometheus_runners.json"
        write_file_sd(file_sd_path, file_sd({"default": url}, run_id="live-test", session=session.name))
        yield proc, target_of(url), file_sd_path
    finally:
        stop(proc)


def prometheus_config(tmp: Path, gate_addr: str, runners_file_sd: Path) -> Path:
    """The shipped prometheus.yml with this test's paths, targets and a 1 s cadence; plus scrapers with a
    wrong token (a misconfigured second Prometheus, say) for the gate and the runner."""
    cfg = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (tmp / "token").write_text(METRICS + "\n")
    (tmp / "wrong_token").write_text("not-the-metrics-token\n")
    shutil.copy(DEPLOY / "aurora_rules.yml", tmp / "aurora_rules.yml")
    cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    cfg["rule_files"] = [str(tmp / "aurora_rules.yml")]
    cfg.pop("alerting")  # no Alertmanager here: alerts are read from Prometheus' own API
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    gate_job, runner_job = jobs["aurora-gate"], jobs["aurora-runner"]
    assert gate_job["authorization"]["type"] == "Bearer"
    gate_job["authorization"]["credentials_file"] = str(tmp / "token")
    gate_job["static_configs"] = [{"targets": [gate_addr], "labels": {"env": "test"}}]
    assert runner_job["authorization"]["type"] == "Bearer"
    runner_job["authorization"]["credentials_file"] = str(tmp / "token")
    runner_job["file_sd_configs"] = [{"files": [str(runners_file_sd)]}]
    for name, job in (("wrong-token", gate_job), ("wrong-token-runner", runner_job)):
        wrong = {**job, "job_name": name, "authorization": {**job["authorization"]}}
        wrong["authorization"]["credentials_file"] = str(tmp / "wrong_token")
        cfg["scrape_configs"].append(wrong)
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def prometheus(tmp_path: Path, gate, runner) -> Iterator[tuple[httpx.Client, str]]:
    _, gate_addr = gate
    work = tmp_path / "prom"
    work.mkdir()
    config = prometheus_config(work, gate_addr, runner[2])
    log = work / "prometheus.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
             "--web.listen-address=127.0.0.1:0"],
            stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def address() -> str | None:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            m = LISTENING.search(log.read_text())
            return m.group(1) if m else None

        addr = wait_for("prometheus to listen", address)
        with httpx.Client(base_url=f"http://{addr}", timeout=5) as client:
            wait_for("prometheus ready", lambda: _ok(client, "/-/ready"))
            yield client, gate_addr
    finally:
        stop(proc)


def _ok(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def targets(client: httpx.Client) -> dict[str, dict]:
    """One target per job here: the gate, the runner, and the wrong-token scraper of each."""
    active = client.get("/api/v1/targets").json()["data"]["activeTargets"]
    return {t["labels"]["job"]: t for t in active}


def health(client: httpx.Client, job: str, want: str) -> dict | None:
    t = targets(client).get(job)
    return t if t is not None and t["health"] == want else None


def query(client: httpx.Client, expr: str) -> list[dict]:
    body = client.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def all_rules(client: httpx.Client) -> list[dict]:
    return [r for g in client.get("/api/v1/rules").json()["data"]["groups"] for r in g["rules"]]


def test_real_prometheus_scrapes_a_gate_and_a_runner_and_evaluates_every_rule(prometheus, gate, runner) -> None:
    client, gate_addr = prometheus
    proc, _ = gate
    _, runner_addr, _ = runner
    up = wait_for("the gate target up", lambda: health(client, "aurora-gate", "up"))
    assert up["labels"]["instance"] == gate_addr and up["scrapeUrl"].endswith("/metrics")
    assert up["lastError"] == ""
    rup = wait_for("the runner target up", lambda: health(client, "aurora-runner", "up"))
    assert rup["labels"]["instance"] == runner_addr and rup["scrapeUrl"] == f"http://{runner_addr}/metrics"
    assert rup["labels"]["group"] == "default" and rup["lastError"] == ""
    # the wrong-token scrapers fail with 401; the gate counts it under scope="metrics", the runner too
    for job in ("wrong-token", "wrong-token-runner"):
        wrong = wait_for(f"the {job} target down", lambda job=job: health(client, job, "down"))
        assert "401" in wrong["lastError"], job
    failed = wait_for("metrics-scope auth failures counted",
                      lambda: query(client, 'aurora_ops_auth_fail_total{job="aurora-gate", scope="metrics"} > 0'))  # fmt: skip
    assert failed[0]["metric"]["instance"] == gate_addr
    assert wait_for("the runner's refused scrapes counted",
                    lambda: query(client, 'aurora_runner_metrics_auth_fail_total{job="aurora-runner"} > 0'))  # fmt: skip
    # the runner trades through the gate: both see the same checks
    wait_for("a decision seen by the runner and the gate", lambda: query(
        client, 'sum(aurora_runner_gate_checks_total{outcome=~"allow|deny"}) > 0 and on () '
                'sum(aurora_decisions_total{job="aurora-gate"}) > 0'))  # fmt: skip

    # every rule evaluated at least once after the gate's and the runner's series were in, and none errored
    def evaluated() -> list[dict] | None:
        rules = all_rules(client)
        done = all(r["health"] == "ok" and r["lastEvaluation"] != ZERO_TIME for r in rules)
        ready = query(client, 'aurora:orders_outcomes:rate10m{job="aurora-gate"}') and query(
            client, 'aurora:runner_feed_messages:rate1m{job="aurora-runner"} > 0')
        return rules if done and ready else None

    rules = wait_for("every rule evaluated", evaluated)
    shipped = yaml.safe_load((DEPLOY / "aurora_rules.yml").read_text())
    assert len(rules) == sum(len(g["rules"]) for g in shipped["groups"])
    assert [r for r in rules if r["health"] != "ok"] == []
    # the scraper's 401s are not an auth-failure burst
    assert query(client, 'aurora:ops_auth_fail:increase5m{scope="metrics"}') == []
    assert query(client, 'ALERTS{alertname="AuroraAuthFailureBurst"}') == []
    # the gate and the runner are up: no availability alert, not even pending
    assert query(client, 'ALERTS{alertname=~"AuroraGate.*|AuroraRunner.*"}') == []
    # every dashboard query runs; each stat panel shows a value for this gate or this runner (never "No data")
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for t in panel["targets"]:
            result = query(client, concrete(t["expr"]))
            if panel["type"] == "stat":
                expected = runner_addr if is_runner_panel(panel) else gate_addr
                assert [r["metric"].get("instance") for r in result] == [expected], panel["title"]

    # stop the gate: its target goes down and AuroraGateDown is raised (pending for its 20 s, then firing);
    # the runner, still up, loses the gate too: AuroraRunnerGateUnreachable
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    wait_for("the gate target down", lambda: targets(client)["aurora-gate"]["health"] == "down")
    alert = wait_for("AuroraGateDown", lambda: query(client, 'ALERTS{alertname="AuroraGateDown"}'))
    labels = alert[0]["metric"]
    assert (
        labels["instance"] == gate_addr
        and labels["job"] == "aurora-gate"
        and labels["severity"] == "critical"
    )
    assert labels["alertstate"] in ("pending", "firing")
    alert = wait_for("AuroraRunnerGateUnreachable",
                     lambda: query(client, 'ALERTS{alertname="AuroraRunnerGateUnreachable"}'))  # fmt: skip
    assert alert[0]["metric"]["instance"] == runner_addr and alert[0]["metric"]["alertstate"] in ("pending", "firing")
    assert health(client, "aurora-runner", "up")
