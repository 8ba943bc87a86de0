"""The compiled decision path (aurora/native.py): used only when it matches its sources, and it decides
exactly as the interpreted one does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aurora import native

ROOT = Path(__file__).resolve().parents[2]

# Decisions of a busy mixed session (four symbols, denies among them) by a fresh pipeline, as JSON; the
# observability without the per-stage timings (timed=False), everything else as decided.
DECIDE = textwrap.dedent(
    """
    import json, sys
    from aurora import native
    from aurora.config.models import AuroraConfig
    from aurora.gate.pipeline import Pipeline
    from bench.bench_gate_decide import BENCH_CALIBRATION, bench_config, make_requests

    out = {"path": native.status["decision_path"], "decisions": []}
    for cfg in (bench_config(), AuroraConfig()):
        pipe = Pipeline(cfg, BENCH_CALIBRATION, timed=False)
        for i, r in enumerate(make_requests(1500, seed=7)):
            d = pipe.decide(r, 1_700_000_000_000_000_000 + i * 3_000_000)
            out["decisions"].append([d.allow, d.reason, d.max_qty, d.risk_scale, d.cooldown_ms, d.guard,
                                     d.risk_reducing, d.observability])
    sys.stdout.write(json.dumps(out, sort_keys=True, default=str))
    """
)


def _decide(pure: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    if pure:
        env[native.PURE_ENV] = "1"
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", DECIDE], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_the_installed_decision_path_is_compiled_from_the_current_sources() -> None:
    reason = native.stale_reason()
    if reason is not None and reason.startswith("not compiled"):
        pytest.skip(f"the decision path is interpreted here: {reason} (no C compiler at install?)")
    assert reason is None, reason
    assert native.status["decision_path"] == "compiled"
    import aurora.gate.pipeline  # noqa: F401 - the group, imported

    loaded = native.loaded_compiled()
    assert loaded and all(loaded.values()), loaded


def test_compiled_and_interpreted_decide_the_same() -> None:
    if native.stale_reason() is not None:
        pytest.skip(f"only the interpreted path is here: {native.stale_reason()}")
    compiled, interpreted = _decide(pure=False), _decide(pure=True)
    assert (compiled["path"], interpreted["path"]) == ("compiled", "interpreted")
    a, b = compiled["decisions"], interpreted["decisions"]
    assert len(a) == len(b) == 3000
    assert {d[1] for d in a} - {"OK"}, "the sample holds denies too"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x == y, (i, x, y)


def _fake_group(tmp_path: Path, name: str) -> tuple[list[str], Path]:
    """A package of two modules that both have a 'compiled' file beside them: garbage bytes, so an import
    that reaches one fails loudly."""
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    modules = []
    for mod in ("alpha", "beta"):
        (pkg / f"{mod}.py").write_text(f"WHO = 'source {mod}'\n")
        (pkg / f"{mod}{native.importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"not an extension")
        modules.append(f"{name}.{mod}")
    return modules, tmp_path / "manifest.json"


def test_a_source_edited_after_the_build_runs_from_source_all_or_none(tmp_path: Path, monkeypatch) -> None:
    modules, manifest = _fake_group(tmp_path, "aurora_native_case_a")
    native.write_manifest(modules, tmp_path, manifest, "test")
    assert native.stale_reason(modules, tmp_path, manifest) is None
    # a touch (git checkout) keeps the bytes: still the build's
    beta = tmp_path / "aurora_native_case_a" / "beta.py"
    os.utime(beta, ns=(1, 1))
    assert native.stale_reason(modules, tmp_path, manifest) is None
    beta.write_text("WHO = 'edited beta'\n")
    reason = native.stale_reason(modules, tmp_path, manifest)
    assert reason == "aurora_native_case_a/beta.py changed since the build (run make install)"
    # the loader: every module of the group from its source (the garbage "extensions" are never opened)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    status = dict(native.status)
    try:
        got = native.activate(modules, tmp_path, manifest)
        assert got["decision_path"] == "interpreted" and "beta.py changed" in got["reason"]
        import aurora_native_case_a.alpha as alpha
        import aurora_native_case_a.beta as beta_mod

        assert (alpha.WHO, beta_mod.WHO) == ("source alpha", "edited beta")
    finally:
        native.status.clear()
        native.status.update(status)
        for m in [*modules, "aurora_native_case_a"]:
            sys.modules.pop(m, None)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("no manifest", "no readable build manifest (manifest.json)"),
        ("one missing", "partly compiled: aurora_native_case_b.beta missing"),
        ("pure", "AURORA_PURE_PYTHON=1"),
    ],
)
def test_why_the_compiled_path_is_not_used(tmp_path: Path, monkeypatch, setup: str, expected: str) -> None:
    modules, manifest = _fake_group(tmp_path, "aurora_native_case_b")
    if setup == "one missing":
        native.write_manifest(modules, tmp_path, manifest, "test")
        next((tmp_path / "aurora_native_case_b").glob("beta.*.so")).unlink()
    if setup == "pure":
        monkeypatch.setenv(native.PURE_ENV, "1")
    assert native.stale_reason(modules, tmp_path, manifest) == expected
