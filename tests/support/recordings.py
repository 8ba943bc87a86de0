"""Short slices of the shared real Binance recording (see ``../shared/data/README.md``), in the replay format."""

from __future__ import annotations

import gzip
from pathlib import Path

#: The real Binance USD-M BTCUSDT recording shared by the projects; tests skip without it.
SHARED_BTC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "usdm_btcusdt_20240808.gz"

#: A runner config that trades BTCUSDT often on a short slice (the tuning tests' ``trader.yaml``).
BTC_SLICE_TRADER = (
    "runner: {mode: paper, wind_down_s: 1.0}\n"
    "symbols: [{symbol: BTCUSDT, qty: 0.01}]\n"
    "strategy: {score_threshold: 0.3, enr_threshold_bps: -20.0, max_hold_s: 3.0, warmup_s: 2.0}\n"
)


def btc_slice(out: Path, seconds: float) -> Path | None:
    """The first ``seconds`` of the shared recording (its REST snapshot, line 55, included), converted to the
    replay format at ``out`` (``None`` when the recording is absent)."""
    from runner.feeds.importers import import_recordings

    if not SHARED_BTC.is_file():
        return None
    raw = out.with_name(out.name + ".raw.gz")
    with gzip.open(SHARED_BTC, "rb") as src, gzip.open(raw, "wb") as dst:
        first = None
        for line in src:
            t = int(line.split(b" ", 1)[0])
            first = t if first is None else first
            if t - first > seconds * 1e9:
                break
            dst.write(line)
    import_recordings("hftbacktest", [raw], out)
    raw.unlink()
    return out
