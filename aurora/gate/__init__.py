"""The pre-trade gate (SPEC §4): guards (:mod:`aurora.gate.guard` holds their interface and the request,
decision and reason types), the pipeline around them, and the stateful gate service core.

``aurora.gate`` never imports FastAPI; the HTTP face lives in :mod:`aurora.api`. The package itself
imports nothing, so that a tool needing one small module (``thresholds``, say) does not load the
decision path.
"""
