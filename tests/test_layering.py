"""Layering, read from the source: product packages hold product code only, and their dependencies point
one way (the CLI on top; the gate never needs the runner, except one-click, which drives both)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("aurora", "runner", "oneclick", "auroractl")


def imports(package: str) -> dict[str, set[str]]:
    """Top-level modules each file of ``package`` imports (module-level and inside functions)."""
    out: dict[str, set[str]] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(REPO))] = names
    return out


@pytest.mark.parametrize("package", PRODUCT)
def test_product_code_never_imports_tests_or_benchmarks(package: str) -> None:
    bad = {
        f: sorted(n & {"tests", "bench", "pytest"})
        for f, n in imports(package).items()
        if n & {"tests", "bench", "pytest"}
    }
    assert bad == {}


@pytest.mark.parametrize("package", ["aurora", "runner", "oneclick"])
def test_domain_packages_never_import_the_cli_toolkit(package: str) -> None:
    """typer and rich belong to auroractl: the gate and the runner are libraries and services."""
    bad = {
        f: sorted(n & {"typer", "rich", "auroractl"})
        for f, n in imports(package).items()
        if n & {"typer", "rich", "auroractl"}
    }
    assert bad == {}


def test_layers_point_one_way() -> None:
    """The gate (aurora) needs neither the runner nor one-click; the runner may use the gate's library
    (config, events, instruments) but never one-click; one-click sits above both; only the CLI imports
    the CLI."""
    upward = {
        "aurora": {"runner", "oneclick", "auroractl"},
        "runner": {"oneclick", "auroractl"},
        "oneclick": {"auroractl"},
    }
    bad = {
        f: sorted(n & forbidden)
        for package, forbidden in upward.items()
        for f, n in imports(package).items()
        if n & forbidden
    }
    assert bad == {}


def test_test_only_helpers_live_under_tests() -> None:
    assert not (REPO / "aurora" / "analytics" / "session_log_generator.py").exists()
    assert (REPO / "tests" / "support" / "session_log_generator.py").is_file()
