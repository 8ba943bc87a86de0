"""RiskBook's incremental bookkeeping equals the naive recomputation, whatever the event order."""

from hypothesis import given, settings
from hypothesis import strategies as st

from aurora.gate.risk_book import EPS, OpenOrder, RiskBook

SYMS = ("A", "B", "C")
ACCS = ("x", "y")

op = st.one_of(
    st.tuples(st.just("reserve"), st.integers(0, 7), st.sampled_from(ACCS), st.sampled_from(SYMS),
              st.sampled_from(("buy", "sell")), st.sampled_from((1.0, 2.0)), st.booleans()),
    st.tuples(st.just("event"), st.integers(0, 7), st.sampled_from(("SUBMIT", "ACK", "PARTIAL", "FILL", "REJECT",
                                                                    "CANCEL.ACK", "EXPIRE"))),
    st.tuples(st.just("purge"), st.integers(0, 10)),
)  # fmt: skip


def naive_open(book: RiskBook, account: str) -> set[str]:
    out = {s for s, q in book.positions.get(account, {}).items() if abs(q) > EPS}
    out |= {o.symbol for o in book.orders.values() if o.account == account and not o.reducing}
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=40))
def test_open_symbols_and_snapshot_round_trip(ops):
    book = RiskBook()
    t = 0
    for o in ops:
        t += 1
        if o[0] == "reserve":
            _, k, acc, sym, side, qty, reducing = o
            book.reserve(OpenOrder(f"c{k}", acc, sym, side, qty, 100.0, reducing, t + 5))
        elif o[0] == "event":
            _, k, short = o
            ev = {"short": short, "cid": f"c{k}", "account": "x", "symbol": "A", "side": "buy", "qty": 1.0}
            if short in ("PARTIAL", "FILL"):
                ev["fill_qty"] = 0.5 if short == "PARTIAL" else 1.0
            book.apply_order_event(ev, t)
        else:
            book.purge_reservations(t + o[1])
        for acc in ACCS:
            assert set(book.open_symbols(acc)) == naive_open(book, acc)
    again = RiskBook()
    again.restore(book.snapshot())
    for acc in ACCS:
        assert set(again.open_symbols(acc)) == naive_open(book, acc)
    assert again.positions == book.positions and set(again.orders) == set(book.orders)
