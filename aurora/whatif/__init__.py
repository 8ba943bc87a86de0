"""What-if: re-decide a recorded session's checks under a candidate config (``auroractl whatif``).

:func:`aurora.whatif.replay.whatif` is the core; :mod:`aurora.whatif.html` renders its HTML section.
"""

from aurora.whatif.replay import WhatIfError, load_session, replay, whatif

__all__ = ["WhatIfError", "load_session", "replay", "whatif"]
