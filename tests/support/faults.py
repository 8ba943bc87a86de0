"""Faults to inject into a gate, through what the compiled decision path allows (aurora/native.py):
a compiled object's methods cannot be replaced, so a fault is a stand-in object in its place."""

from __future__ import annotations

from typing import Any

from aurora.gate.pipeline import Pipeline
from aurora.gate.trap_guard import TrapGuard


def raising_trap(pipeline: Pipeline, exc: BaseException) -> None:
    """Make ``pipeline``'s trap guard raise ``exc`` on every check (the rest of the pipeline as it was)."""

    class RaisingTrap(TrapGuard):
        def check(self, r: Any, d: Any, now_ns: int) -> str | None:
            raise exc

    pipeline.trap = RaisingTrap(pipeline.cfg)
    pipeline.configure(pipeline.cfg)  # the stages are rebuilt from the guards


class CrashingPipeline:
    """Stands in for a gate's pipeline (``GateService.pipeline``): ``decide`` raises ``exc``, everything
    else is the real pipeline's."""

    def __init__(self, real: Pipeline, exc: BaseException) -> None:
        self._real = real
        self._exc = exc

    def decide(self, r: Any, now_ns: int) -> Any:
        raise self._exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_real", "_exc"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._real, name, value)
