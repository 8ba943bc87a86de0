"""Run every benchmark module in ``bench/`` (those defining ``run()``), print a table, save JSON.

Results go to ``reports/bench/<name>.json``. ``python -m bench NAME`` runs only the named ones.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

import bench
from aurora import native


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    wanted = [n for n in names if not argv or any(a in n for a in argv)]
    out_dir = Path("reports/bench")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not wanted:
        print("no benchmarks found" if not argv else f"no benchmark matches {argv}")
        return 0
    for name in wanted:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name} (decision path {native.status['decision_path']})", flush=True)
        started = time.time()
        result = module.run()
        result.setdefault("benchmark", name)
        result.setdefault("wall_s", round(time.time() - started, 2))
        # compiled or interpreted (aurora/native.py): the gate's figures depend on it
        result.setdefault("decision_path", dict(native.status))
        (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        for row in result.get("table", []):
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
        print(f"   -> {out_dir / (name + '.json')}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
