"""The pre-trade gate (SPEC §4): guards, the pipeline around them, and the stateful gate service core.

``aurora.gate`` never imports FastAPI; the HTTP face lives in :mod:`aurora.api`.
"""

from aurora.gate.guard import CheckRequest, Decision, DecisionState, Guard, Reason

__all__ = ["CheckRequest", "Decision", "DecisionState", "Guard", "Reason"]
