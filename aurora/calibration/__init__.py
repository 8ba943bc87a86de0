"""Score → win-probability calibration (SPEC §4 stage 4), shared by the gate and the runner.

Maps are fitted offline (isotonic regression by pool-adjacent-violators, plus a Platt sigmoid used when
the isotonic map is too sparse) and loaded from JSON; prediction is an interpolation, never a model call.

The score is *side-aligned*: higher means the trade in its own direction is more likely to win
(the runner flips the sign of a bearish signal for a sell).
"""

from aurora.calibration.calibration_map import (
    DEFAULT_MAP_PATH,
    CalibrationError,
    CalibrationMap,
    expected_calibration_error,
)
from aurora.calibration.fitting import fit_calibration, fit_isotonic, fit_platt

__all__ = [
    "DEFAULT_MAP_PATH",
    "CalibrationError",
    "CalibrationMap",
    "expected_calibration_error",
    "fit_calibration",
    "fit_isotonic",
    "fit_platt",
]
