import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurora.calibration import (
    DEFAULT_MAP_PATH,
    CalibrationError,
    CalibrationMap,
    expected_calibration_error,
    fit_calibration,
    fit_isotonic,
    fit_platt,
)


def logistic_pairs(n: int, seed: int, a: float = 1.2, b: float = -0.3) -> tuple[np.ndarray, np.ndarray]:
    """Scores ~ N(0, 1) with outcomes drawn from a known sigmoid: a perfectly calibratable sample."""
    rng = np.random.default_rng(seed)
    s = rng.normal(size=n)
    return s, (rng.random(n) < 1 / (1 + np.exp(-(a * s + b)))).astype(int)


def test_pav_pools_violators_exactly():
    # outcomes 1,0 at the two lowest scores violate monotonicity and must pool to 0.5
    xs, ys = fit_isotonic([1, 2, 3, 4], [1, 0, 0, 1], min_block=1)
    assert ys == [pytest.approx(1 / 3), 1.0]
    assert xs == [pytest.approx(2.0), 4.0]


def test_ties_share_one_value():
    xs, ys = fit_isotonic([0, 0, 0, 1], [1, 0, 0, 1], min_block=1)
    assert xs == [0.0, 1.0] and ys == [pytest.approx(1 / 3), 1.0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-50, 50, allow_nan=False), st.integers(0, 1)),
        min_size=1,
        max_size=300,
    ),
    st.integers(1, 30),
)
def test_isotonic_is_monotone_and_bounded(pairs, min_block):
    s = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    xs, ys = fit_isotonic(s, y, min_block=min_block, max_knots=16)
    assert len(xs) <= 16
    assert all(b > a for a, b in zip(xs, xs[1:], strict=False))
    assert all(b >= a for a, b in zip(ys, ys[1:], strict=False))
    assert all(0.0 <= v <= 1.0 for v in ys)
    cmap = CalibrationMap(xs, ys, min_points=1)
    grid = np.linspace(-60, 60, 97)
    pred = [cmap.predict(float(g)) for g in grid]
    assert all(b >= a - 1e-12 for a, b in zip(pred, pred[1:], strict=False))
    np.testing.assert_allclose(pred, cmap.predict_many(grid), atol=1e-12)


def test_scalar_predict_matches_numpy_interp_and_clamps():
    cmap = CalibrationMap([-1.0, 0.0, 2.0, 3.0, 4.0], [0.1, 0.3, 0.5, 0.9, 0.95])
    assert cmap.kind == "isotonic"
    assert cmap.predict(-5) == 0.1 and cmap.predict(10) == 0.95
    assert cmap.predict(1.0) == pytest.approx(0.4)
    assert cmap.predict(float("nan")) == 0.1
    for s in np.linspace(-2, 5, 50):
        assert cmap.predict(float(s)) == pytest.approx(float(np.interp(s, cmap.x, cmap.y)))


def test_sparse_map_falls_back_to_platt():
    cmap = CalibrationMap([0.0, 1.0], [0.2, 0.8], platt_a=2.0, platt_b=-1.0, min_points=5)
    assert cmap.kind == "platt"
    assert cmap.predict(0.5) == pytest.approx(0.5)
    assert cmap.predict(-1000) == pytest.approx(0.0) and cmap.predict(1000) == pytest.approx(1.0)
    np.testing.assert_allclose(cmap.predict_many(np.array([0.5, 1.0])), [0.5, 1 / (1 + math.exp(-1))])


def test_platt_recovers_a_known_sigmoid():
    rng = np.random.default_rng(1)
    s = rng.normal(size=20000)
    y = (rng.random(s.size) < 1 / (1 + np.exp(-(1.5 * s - 0.5)))).astype(int)
    a, b = fit_platt(s, y)
    assert a == pytest.approx(1.5, abs=0.1) and b == pytest.approx(-0.5, abs=0.07)


def test_platt_is_finite_on_separable_data():
    a, b = fit_platt([-2, -1, 1, 2], [0, 0, 1, 1])
    assert math.isfinite(a) and math.isfinite(b) and a > 0


def test_ece_hand_computed():
    # bin [0.1,0.2): p=0.1,0.1 y=0,1 -> |0.2-1|=0.8 ; bin [0.9,1]: p=0.9 y=1 -> 0.1 ; total (0.8+0.1)/3
    assert expected_calibration_error([0.1, 0.1, 0.9], [0, 1, 1]) == pytest.approx(0.3)
    assert expected_calibration_error([1.0, 0.0], [1, 0]) == 0.0
    assert math.isnan(expected_calibration_error([], []))


def test_fit_save_load_roundtrip(tmp_path):
    s, y = logistic_pairs(4000, seed=3)
    cmap = fit_calibration(s, y)
    assert cmap.meta["n"] == 4000 and cmap.meta["ece_in_sample"] < 0.03
    # held-out pairs from the same curve are well calibrated too
    s2, y2 = logistic_pairs(8000, seed=99)
    assert expected_calibration_error(cmap.predict_many(s2), y2) < 0.03
    path = cmap.save(tmp_path / "m" / "map.json")
    again = CalibrationMap.load(path)
    assert again.x == cmap.x and again.y == cmap.y and again.platt_a == cmap.platt_a
    grid = np.linspace(-4, 4, 33)
    np.testing.assert_allclose(again.predict_many(grid), cmap.predict_many(grid))


def test_default_map_ships_and_is_informative():
    # How well it fits the runner's trades is tested in tests/runner/test_calibration_data.py.
    assert DEFAULT_MAP_PATH.is_file()
    cmap = CalibrationMap.load()
    # n: the runner's own round trips on 8 x 30 simulated minutes (one position per symbol at a time)
    assert cmap.kind == "isotonic" and cmap.meta["n"] >= 2000
    assert cmap.predict(2.0) > cmap.predict(1.0)
    # Scalping outcomes are close calls: a shipped map that says "certain win" is miscalibrated.
    assert 0.1 < cmap.predict(0.0) and cmap.predict(10.0) < 0.9
    assert cmap.meta["holdout"]["ece"] < 0.05


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"not json", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"format_version": 1, "y": [], "platt": {"a": 0, "b": 0}}', "missing field 'x'"),
        (b'{"format_version": 1, "x": [1, 0], "y": [0.1, 0.2], "platt": {"a": 0, "b": 0}}', "strictly increasing"),
        (b'{"format_version": 1, "x": [0, 1], "y": [0.5, 0.2], "platt": {"a": 0, "b": 0}}', "non-decreasing"),
        (b'{"format_version": 1, "x": [0], "y": [1.5], "platt": {"a": 0, "b": 0}}', "probability"),
        (b'{"format_version": 9, "x": [], "y": [], "platt": {"a": 0, "b": 0}}', "format_version"),
    ],
)
def test_bad_map_files_name_the_problem(tmp_path, content, fragment):
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    with pytest.raises(CalibrationError, match=fragment) as exc:
        CalibrationMap.load(p)
    assert str(p) in str(exc.value)


def test_missing_file_and_bad_inputs():
    with pytest.raises(CalibrationError, match="cannot read"):
        CalibrationMap.load("/nonexistent/map.json")
    with pytest.raises(CalibrationError, match="0 \\(loss\\) or 1"):
        fit_calibration([0.1, 0.2], [0, 2])
    with pytest.raises(CalibrationError, match="no \\(score, outcome\\)"):
        fit_calibration([], [])
    with pytest.raises(CalibrationError, match="differ in length"):
        fit_calibration([0.1], [0, 1])
