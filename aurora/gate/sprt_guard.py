"""Stage 7 (optional): Wald's sequential probability ratio test on the request's edge samples.

Samples are i.i.d. Gaussian with known ``sigma``: H0 mean ``mu0`` (no edge) vs H1 mean ``mu1``. Each
sample adds ``(mu1 − mu0)·(x − (mu0 + mu1)/2) / sigma²`` to the log-likelihood ratio; reaching
``A = ln((1−β)/α)`` accepts H1 (pass), reaching ``B = ln(β/(1−α))`` accepts H0 (``SPRT_REJECT``).
Undecided after ``max_obs`` samples or ``timeout_ms`` → ``sprt.on_undecided`` (allow or deny).
A request without samples is not tested.
"""

from __future__ import annotations

import time

from aurora.config.models import AuroraConfig, sprt_bounds
from aurora.gate.guard import CheckRequest, DecisionState, Reason


class SprtGuard:
    name = "sprt"

    def __init__(self, cfg: AuroraConfig) -> None:
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        s = cfg.sprt
        self.enabled = s.enabled
        if s.A is not None and s.B is not None:
            self.A, self.B = s.A, s.B
            self.key_a, self.key_b = "sprt.A", "sprt.B"
        else:
            self.key_a, self.key_b = "sprt.alpha", "sprt.beta"  # the bounds come from alpha and beta
            self.A, self.B = sprt_bounds(s.alpha or 0.05, s.beta or 0.1)
        self.k = (s.mu1 - s.mu0) / (s.sigma * s.sigma)
        self.mid = 0.5 * (s.mu0 + s.mu1)
        self.max_obs = s.max_obs
        self.timeout_ns = int(s.timeout_ms * 1e6)
        self.deny_undecided = s.on_undecided == "deny"

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        if d.risk_reducing:  # an exit needs no edge: closing risk must not wait for alpha
            d.obs["sprt"] = {"skipped": "risk-reducing order", "pass": True}
            return None
        samples = r.sprt_samples
        if not self.enabled or not samples:
            d.obs["sprt"] = {"enabled": self.enabled, "tested": False, "pass": True}
            return None
        A, B, k, mid = self.A, self.B, self.k, self.mid
        if len(samples) > self.max_obs:
            samples = samples[: self.max_obs]  # undecided after max_obs samples
        llr = 0.0
        n = 0
        verdict = "undecided"
        # Short tests (the usual case) read no clock; a long one checks the deadline every 64 samples.
        deadline = time.perf_counter_ns() + self.timeout_ns if len(samples) >= 64 else None
        for x in samples:
            n += 1
            llr += k * (x - mid)
            if llr >= A:
                verdict = "H1"
                break
            if llr <= B:
                verdict = "H0"
                break
            if deadline is not None and not n & 63 and time.perf_counter_ns() > deadline:
                verdict = "timeout"
                break
        ok = verdict == "H1" or (verdict in ("undecided", "timeout") and not self.deny_undecided)
        d.obs["sprt"] = {"llr": llr, "n": n, "A": A, "B": B, "verdict": verdict,
                         "key": self.key_b if verdict == "H0" else self.key_a if verdict == "H1" else "sprt.on_undecided",
                         "pass": ok}  # fmt: skip
        return None if ok else Reason.SPRT_REJECT
