"""CLI start time: ``auroractl --help`` and ``auroractl config validate`` against the floor of any Typer +
rich CLI, ``python -c "import typer, rich.console"``, measured in the same run.

Goal (issue 13): both within 4x of the floor. Each is a fresh process (what an operator waits for);
runs are interleaved so a busy machine slows all three alike, and the ratio is of medians. Child CPU
time (user + sys) is reported too: on a shared machine it shows the work regardless of waiting.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPEATS = int(os.environ.get("AURORA_BENCH_CLI_REPEATS", "15"))
TARGET = 4.0
ROOT = Path(__file__).resolve().parents[1]


def _commands() -> dict[str, list[str]]:
    script = Path(sys.executable).with_name("auroractl")
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "auroractl"]
    return {
        "import typer, rich.console": [sys.executable, "-c", "import typer, rich.console"],
        "auroractl --help": [*cli, "--help"],
        "auroractl config validate": [*cli, "config", "validate"],
    }


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "OPS_TOKEN"))}
    env.update(NO_COLOR="1", AURORA_ROOT=str(ROOT), COLUMNS="120")
    commands = _commands()
    for argv in commands.values():  # warm the page cache and the bytecode caches
        _time(argv, env)
    wall: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(REPEATS):
        for name, argv in commands.items():
            w, c = _time(argv, env)
            wall[name].append(w)
            cpu[name].append(c)
    floor_name = next(iter(commands))
    floor, floor_cpu = statistics.median(wall[floor_name]), statistics.median(cpu[floor_name])
    rows, ratios = [], {}
    for name in commands:
        median = statistics.median(wall[name])
        ratios[name] = median / floor
        rows.append(
            {
                "command": name,
                "median_s": round(median, 4),
                "best_s": round(min(wall[name]), 4),
                "cpu_s": round(statistics.median(cpu[name]), 4),
                "ratio": round(median / floor, 2),
                "ratio_cpu": round(statistics.median(cpu[name]) / floor_cpu, 2) if floor_cpu else None,
            }
        )
    worst = max(v for k, v in ratios.items() if k != floor_name)
    return {
        "repeats": REPEATS,
        "target_ratio": TARGET,
        "ratios": {k: round(v, 3) for k, v in ratios.items() if k != floor_name},
        "met": worst <= TARGET,
        "wall_s": {k: [round(x, 4) for x in v] for k, v in wall.items()},
        "table": rows,
    }
