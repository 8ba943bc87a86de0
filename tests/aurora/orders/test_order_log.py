from aurora.orders.order_log import OrderLogs
from tests.support.logs import read_records


def test_streams_and_consolidated_file(tmp_path):
    logs = OrderLogs(tmp_path, "run-1")
    logs.write("success", ts_ns=1, cid="a", symbol="SOLUSDT", side="buy", qty=1.0, price=None,
               event_code="ORDER.FILL", fill_qty=1.0, fill_price=100.0)  # fmt: skip
    logs.write("failed", ts_ns=2, cid="b", event_code="ORDER.REJECT", reason="X", details={"k": 1})
    logs.write("denied", ts_ns=3, cid=None, symbol="SOLUSDT", event_code="POLICY_DECISION", reason="SPREAD_GUARD")
    logs.close()
    succ, _ = read_records(tmp_path, "orders_success")
    assert succ == [{"ts_ns": 1, "run_id": "run-1", "stream": "success", "cid": "a", "symbol": "SOLUSDT", "side": "buy",
                     "qty": 1.0, "event_code": "ORDER.FILL", "fill_qty": 1.0, "fill_price": 100.0}]  # fmt: skip
    failed, _ = read_records(tmp_path, "orders_failed")
    assert failed[0]["details"] == {"k": 1} and "price" not in failed[0]
    denied, _ = read_records(tmp_path, "orders_denied")
    assert "cid" not in denied[0] and denied[0]["reason"] == "SPREAD_GUARD"
    allrecs, _ = read_records(tmp_path, "orders")
    assert [r["stream"] for r in allrecs] == ["success", "failed", "denied"]
    # the reader of "orders" must not pick up orders_success & co.
    assert len(allrecs) == 3


def test_order_logs_rotate_too(tmp_path):
    logs = OrderLogs(tmp_path, "run-2", max_bytes=2_000)
    for i in range(300):
        logs.write("denied", ts_ns=i + 1, cid=f"c{i}", event_code="POLICY_DECISION", reason="ER_BELOW_MIN")
    logs.close()
    recs, _ = read_records(tmp_path, "orders_denied")
    assert [r["cid"] for r in recs] == [f"c{i}" for i in range(300)]
    assert any(p.name.startswith("orders_denied.") and p.name.endswith(".jsonl.gz") for p in tmp_path.iterdir())
