"""The gate's decision path, compiled: which modules, and whether the compiled ones may be used.

``Pipeline.decide`` and its guards run on every order, and in ``auroractl whatif`` on every recorded
check; in CPython they cost ~14 µs a decision, compiled with mypyc (the mypy project's compiler of
type-annotated Python to C extensions) ~7 µs. The sources stay the only definition: the same ``.py``
files are compiled at install time (``setup.py``), nothing is written twice, and the interpreted
modules remain a complete fallback.

A compiled module shadows its source (Python imports ``pipeline.cpython-*.so`` before
``pipeline.py``), so a source edited after the build would silently not run. The build therefore
writes a manifest of the sources it compiled (size, mtime and SHA-256 of each); :func:`activate`, run
when the ``aurora`` package is first imported, compares it with the files on disk and, when any
differs (or the manifest is missing, or ``AURORA_PURE_PYTHON=1``), makes the whole group load from
source: all or none, since compiled modules call each other natively. ``make install`` rebuilds.

This module imports nothing outside the standard library: ``setup.py`` reads :data:`COMPILED_MODULES`
from it before any dependency is installed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: The decision path: the pipeline, every guard, the risk book and the kill-switch (the modules a decision
#: runs through). The rest of the gate (service, state journal, API) is I/O-bound and stays interpreted.
COMPILED_MODULES: tuple[str, ...] = (
    "aurora.gate.guard",
    "aurora.gate.thresholds",
    "aurora.gate.risk_book",
    "aurora.gate.kill_switch",
    "aurora.gate.health_guard",
    "aurora.gate.market_guard",
    "aurora.gate.instrument_guard",
    "aurora.gate.latency_guard",
    "aurora.gate.trap_guard",
    "aurora.gate.expected_return_guard",
    "aurora.gate.slippage_guard",
    "aurora.gate.risk_manager",
    "aurora.gate.sprt_guard",
    "aurora.gate.spread_guard",
    "aurora.gate.pipeline",
)

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = Path(__file__).resolve().parent / "native_manifest.json"
PURE_ENV = "AURORA_PURE_PYTHON"

#: What :func:`activate` found: ``compiled``, or ``interpreted`` with the reason (the gate's start-up
#: event carries it, so an operator sees which decision path a gate runs).
status: dict[str, str] = {"decision_path": "interpreted", "reason": "not checked yet"}


def source_of(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def _digest(path: Path) -> str:
    import hashlib  # only when a file's size or mtime moved: every process imports this module

    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_entry(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _digest(path)}


def write_manifest(modules: Sequence[str], root: Path, target: Path, compiler: str) -> None:
    """Record the sources just compiled (called by ``setup.py`` after a successful build)."""
    entries = {m: source_entry(source_of(m, root)) for m in modules}
    target.write_text(json.dumps({"compiler": compiler, "modules": entries}, indent=1, sort_keys=True) + "\n")


def _compiled_file(module: str, root: Path) -> Path | None:
    src = source_of(module, root)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = src.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def stale_reason(modules: Sequence[str] = COMPILED_MODULES, root: Path = ROOT, manifest: Path = MANIFEST) -> str | None:
    """Why the compiled modules must not be used, or None when every one matches its source."""
    if os.environ.get(PURE_ENV) == "1":
        return f"{PURE_ENV}=1"
    missing = [m for m in modules if _compiled_file(m, root) is None]
    if len(missing) == len(modules):
        return "not compiled (no mypyc build in this install)"
    if missing:
        return f"partly compiled: {', '.join(missing)} missing"
    try:
        recorded = json.loads(manifest.read_text())["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable build manifest ({manifest.name})"
    for m in modules:
        entry = recorded.get(m)
        src = source_of(m, root)
        try:
            st = src.stat()
        except OSError:
            return f"{src.name}: source missing"
        if not isinstance(entry, dict):
            return f"{m}: not in the build manifest"
        # the common case costs one stat per module; a touched file (git checkout) is judged by its bytes
        if entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            continue
        if entry.get("sha256") != _digest(src):
            return f"{src.relative_to(root)} changed since the build (run make install)"
    return None


class _SourceFirst:
    """A meta-path finder that loads the named modules from their ``.py`` source, past a compiled file."""

    def __init__(self, modules: Sequence[str], root: Path) -> None:
        self.paths = {m: source_of(m, root) for m in modules}

    def find_spec(
        self, name: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        src = self.paths.get(name)
        if src is None:
            return None
        return importlib.util.spec_from_file_location(name, src)


def activate(modules: Sequence[str] = COMPILED_MODULES, root: Path = ROOT, manifest: Path = MANIFEST) -> dict[str, str]:
    """Decide, once per process and before any of ``modules`` is imported, which of the two runs."""
    reason = stale_reason(modules, root, manifest)
    if reason is None:
        status.update(decision_path="compiled", reason="mypyc build matches the sources")
        return status
    if any(_compiled_file(m, root) is not None for m in modules):
        sys.meta_path.insert(0, _SourceFirst(modules, root))
    status.update(decision_path="interpreted", reason=reason)
    return status


def loaded_compiled(modules: Sequence[str] = COMPILED_MODULES) -> dict[str, bool]:
    """For each of ``modules`` already imported: does it run from a compiled extension?"""
    out = {}
    for m in modules:
        mod = sys.modules.get(m)
        if mod is not None:
            out[m] = str(getattr(mod, "__file__", "")).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    return out
