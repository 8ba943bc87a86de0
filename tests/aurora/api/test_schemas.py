import dataclasses

from aurora.api.schemas import PretradeCheck
from aurora.gate.guard import CheckRequest


def test_to_request_maps_every_field_by_name():
    """to_request builds CheckRequest positionally (hot path): each field must land where it belongs."""
    body = PretradeCheck.model_validate(
        {
            "account": {"id": "acc-7", "equity_usd": 12_345.0},
            "order": {"cid": "c-9", "symbol": "SOLUSDT", "side": "sell", "qty": 1.25, "price": 187.5,
                      "order_type": "market", "reduce_only": True},
            "market": {"best_bid": 187.4, "best_ask": 187.6, "bid_size": 11.0, "ask_size": 12.0, "spread_bps": 1.07,
                       "latency_ms": 13.0, "vol_std_bps": 14.0, "score": 1.5, "tp_bps": 21.0, "sl_bps": 9.0,
                       "l2_add_volumes": [1.0, 2.0], "l2_cancel_volumes": [3.0], "sprt_samples": [0.5],
                       "ts_ns": 1_763_700_000_000_000_000},
        }
    )  # fmt: skip
    r = body.to_request()
    a, o, m = body.account, body.order, body.market
    expected = {"account_id": a.id, "equity_usd": a.equity_usd}
    expected.update({k: getattr(o, k) for k in type(o).model_fields})
    expected.update({k: getattr(m, k) for k in type(m).model_fields})
    got = {f.name: getattr(r, f.name) for f in dataclasses.fields(CheckRequest)}
    assert got == expected
