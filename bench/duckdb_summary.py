"""The DuckDB side of ``bench_analytics_summary``: the summary's aggregates in SQL over a session's files.

A standalone script (it imports duckdb and nothing of Aurora), run as its own process so that the two
engines are compared whole process against whole process, start-up included:

    python bench/duckdb_summary.py SESSION WINDOW_SEC CVAR_ALPHA WINDOW_TRADES [core] > result.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: The fields of the first summary (SPEC section 7), and those the issue 14 views added.
_CORE_FIELDS = (
    "trade_id VARCHAR, allow BOOLEAN, reason VARCHAR, decision_us DOUBLE, spread_bps DOUBLE, vol_std_bps DOUBLE, "
    "latency_ms DOUBLE, realized_pnl_usd DOUBLE, realized_pnl_bps DOUBLE, entry_p_win DOUBLE, state VARCHAR, "
    'action VARCHAR, armed BOOLEAN, halted BOOLEAN, p95_ms DOUBLE, "from" VARCHAR, "to" VARCHAR, trigger VARCHAR, '
    "rate_pct DOUBLE"
)
_VIEW_FIELDS = (
    "mid DOUBLE, order_type VARCHAR, fill_qty DOUBLE, fill_price DOUBLE, cum_qty DOUBLE, fee_usd DOUBLE, "
    "horizon_s DOUBLE, mode VARCHAR, config_version VARCHAR, threshold_ms DOUBLE, cooloff_sec DOUBLE, "
    "threshold STRUCT(key VARCHAR, value VARCHAR, source VARCHAR)"
)


def _event_columns(views: bool) -> str:
    top = "'symbol': 'VARCHAR', 'side': 'VARCHAR', 'qty': 'DOUBLE', " if views else ""
    details = _CORE_FIELDS + (", " + _VIEW_FIELDS if views else "")
    return f"{{'ts_ns': 'BIGINT', 'event_code': 'VARCHAR', 'cid': 'VARCHAR', {top}'details': 'STRUCT({details})'}}"


_ORDER_COLUMNS = "{'ts_ns': 'BIGINT', 'event_code': 'VARCHAR', 'stream': 'VARCHAR'}"


def duckdb_summary(session: Path, window_sec: float, alpha: float, win: int, views: bool = True) -> dict[str, Any]:
    """The same aggregates as ``metrics summary``, in DuckDB SQL over the same files; ``views=False``: only
    those of the first summary (what the issue measured against), reading only their fields."""
    import duckdb

    con = duckdb.connect()
    s = str(session)
    # the consolidated orders.jsonl and its rotated parts (the per-stream files hold the same records)
    con.execute(
        f"""create temp table ev as select ts_ns, event_code, cid, {'symbol, side, qty, ' if views else ''}details.* from read_json(
              ['{s}/*events*.jsonl', '{s}/*events*.jsonl.gz'], format='newline_delimited',
              columns={_event_columns(views)}, ignore_errors=true)
            where ts_ns is not null and event_code is not null"""
    )
    con.execute(
        f"""create temp table od as select * from read_json(['{s}/orders.jsonl', '{s}/orders.*.jsonl.gz'],
              format='newline_delimited', columns={_ORDER_COLUMNS}, ignore_errors=true)
            where ts_ns is not null and event_code is not null"""
    )
    end_ns = con.execute(
        "select greatest((select max(ts_ns) from ev), (select max(ts_ns) from od))"
    ).fetchone()[0]
    start_ns = end_ns - int(window_sec * 1e9)
    con.execute(f"create temp view w as select * from ev where ts_ns >= {start_ns}")
    q = con.execute
    out: dict[str, Any] = {}
    out["decisions"] = q(
        "select count(*), count(*) filter (where allow), count(*) filter (where not allow) from w where event_code='POLICY_DECISION'"
    ).fetchone()
    out["deny_by_reason"] = dict(
        q(
            "select reason, count(*) from w where event_code='POLICY_DECISION' and not allow group by 1"
        ).fetchall()
    )
    out["by_code"] = dict(q("select event_code, count(*) from w group by 1").fetchall())
    out["order_logs"] = dict(
        q(f"select stream, count(*) from od where ts_ns >= {start_ns} group by 1").fetchall()
    )
    out["decision_ms"] = q(
        "select quantile_cont(decision_us / 1000, [0.5, 0.95, 0.99]), avg(decision_us / 1000), max(decision_us / 1000),"
        " quantile_cont(spread_bps, 0.95), quantile_cont(vol_std_bps, 0.95), quantile_cont(latency_ms, 0.95)"
        " from w where event_code='POLICY_DECISION'"
    ).fetchone()
    # one row per order (one pass over the lifecycle events; the views add their columns to it)
    view_columns = """,
             arg_min(ev.symbol, ev.ts_ns) filter (where event_code='ORDER.SUBMIT') as symbol,
             arg_min(ev.side, ev.ts_ns) filter (where event_code='ORDER.SUBMIT') as side,
             arg_min(ev.qty, ev.ts_ns) filter (where event_code='ORDER.SUBMIT') as qty,
             arg_max(event_code, ts_ns) filter (where event_code in ('ORDER.FILL','ORDER.REJECT','ORDER.CANCEL.ACK',
                     'ORDER.EXPIRE')) as final,
             max(ts_ns) filter (where event_code in ('ORDER.FILL','ORDER.REJECT','ORDER.CANCEL.ACK','ORDER.EXPIRE'))
               as last_done,
             min(ts_ns) filter (where event_code in ('ORDER.FILL','ORDER.PARTIAL')) as first_fill,
             max(ev.cum_qty) filter (where event_code in ('ORDER.FILL','ORDER.PARTIAL')) as filled"""
    q(
        f"""create temp table t as select cid,
             min(ts_ns) filter (where event_code='ORDER.SUBMIT') as sub,
             min(ts_ns) filter (where event_code='ORDER.ACK') as ack,
             min(ts_ns) filter (where event_code in ('ORDER.FILL','ORDER.REJECT','ORDER.CANCEL.ACK','ORDER.EXPIRE')) as done
             {view_columns if views else ""}
           from ev where event_code like 'ORDER.%' and cid is not null group by cid
           having bool_or(event_code = 'ORDER.SUBMIT')  -- orphans (no SUBMIT) are in no figure"""
    )
    out["submit_to_ack"] = q(
        f"select count(*), quantile_cont((ack - sub) / 1e6, [0.5, 0.95, 0.99]) from t where ack >= sub and ack >= {start_ns}"
    ).fetchone()
    out["ack_to_done"] = q(
        f"select count(*), quantile_cont((done - ack) / 1e6, [0.5, 0.95, 0.99]) from t where done >= ack and done >= {start_ns}"
    ).fetchone()
    # closing fills that happened: of orders with a SUBMIT, a replayed trade id counted once
    q(
        """create temp table pn as select * from w where realized_pnl_usd is not null and cid in (select cid from t)
           qualify row_number() over (partition by cid, coalesce(trade_id, ts_ns::varchar) order by ts_ns) = 1"""
    )
    out["pnl"] = q(
        f"""with p as (select realized_pnl_usd as x, realized_pnl_bps as b, entry_p_win as pw, ts_ns from pn),
                 k as (select greatest(1, ceil({alpha} * count(*) - 1e-9))::bigint as k from p),
                 tail as (select x, row_number() over (order by x) as r from p),
                 tailb as (select b, row_number() over (order by b) as r from p where b is not null)
            select (select count(*) from p), (select sum(x) from p),
                   (select -avg(x) from tail, k where r <= k.k), (select -avg(b) from tailb, k where r <= k.k)"""
    ).fetchone()
    # worst intraday drawdown (peak includes the day's starting zero)
    out["drawdown"] = q(
        """with p as (select ts_ns // 86400000000000 as d, ts_ns, realized_pnl_usd as x from pn),
                c as (select d, ts_ns, sum(x) over (partition by d order by ts_ns rows unbounded preceding) as cum from p),
                m as (select cum, greatest(0, max(cum) over (partition by d order by ts_ns rows unbounded preceding)) as peak from c)
           select max(peak - cum) from m"""
    ).fetchone()
    out["ece"] = q(
        """with p as (select least(floor(greatest(least(entry_p_win, 1), 0) * 10), 9) as b, entry_p_win as pw,
                             (realized_pnl_usd > 0)::int as y from pn where entry_p_win is not null)
           select sum(abs(sp - sy)) / sum(n) from (select b, count(*) as n, sum(pw) as sp, sum(y) as sy from p group by b)"""
    ).fetchone()
    out["killswitch"] = q(
        f"""with o as (select ts_ns, case when event_code='ORDER.FILL' then 0
                                          when event_code in ('ORDER.REJECT','ORDER.EXPIRE') then 1 else 2 end as k
                       from w where event_code in ('ORDER.FILL','ORDER.REJECT','ORDER.EXPIRE')
                          or (event_code='POLICY_DECISION' and not allow)),
                r as (select sum((k=1)::int) over (order by ts_ns rows {win - 1} preceding) as rej,
                             sum((k=2)::int) over (order by ts_ns rows {win - 1} preceding) as den,
                             row_number() over (order by ts_ns) as i from o)
           select max(rej) filter (where i >= {win}), max(den) filter (where i >= {win}), count(*) from r"""
    ).fetchone()
    width = max(1, -(-(end_ns - start_ns) // 60_000_000_000)) * 1_000_000_000
    out["series"] = q(
        f"""select (ts_ns - {start_ns}) // {width} as b,
                   count(*) filter (where event_code='POLICY_DECISION' and allow),
                   count(*) filter (where event_code='POLICY_DECISION' and not allow),
                   count(*) filter (where event_code='ORDER.FILL'),
                   count(*) filter (where event_code in ('ORDER.REJECT','ORDER.EXPIRE'))
            from w group by 1 order by 1"""
    ).fetchall()
    out["timeline"] = q(
        """select ts_ns, event_code, state, action, armed, halted, p95_ms, reason, "from", "to", trigger, rate_pct from w
           where event_code like 'HEALTH.%' or event_code in ('AURORA.COOL_OFF','AURORA.ESCALATION','AURORA.ARM_STATE',
                 'GOVERNANCE.KILL_SWITCH','OPS.RESET','OPS.COOLOFF') order by ts_ns limit 500"""
    ).fetchall()
    if views:
        _quant_views(q, out, start_ns)
    con.close()
    return out


def _quant_views(q: Any, out: dict[str, Any], start_ns: int) -> None:
    """The views ``metrics summary`` added for issue 14, in SQL: per symbol and side, fills and fill ratio,
    trade statistics per trade and per day, PnL curve and distribution, slippage, markouts, fees, hourly,
    the latency histograms, the deny thresholds and the session's own mode (the reference does the
    same work as the summary, not a subset of it)."""
    out["config"] = q(
        "select mode, config_version from ev where event_code='AURORA.START' order by ts_ns limit 1"
    ).fetchall()
    # each order (table t): its SUBMIT's symbol, side and quantity, its final state (the last lifecycle
    # event) and when it came, its first fill and filled quantity
    q("create temp view o as select cid, symbol, side, qty, final, last_done as done, sub, first_fill, filled from t")
    q(
        """create temp table f as select w.cid, w.ts_ns, w.fill_qty, w.fill_price, w.fee_usd, o.symbol, o.side,
             row_number() over (partition by w.cid, coalesce(w.trade_id, w.ts_ns::varchar) order by w.ts_ns) as nth
           from w join o using (cid) where w.event_code in ('ORDER.FILL','ORDER.PARTIAL')"""
    )
    out["fills"] = q(
        f"""select count(*) filter (where nth = 1), count(*) filter (where nth > 1), sum(fill_qty) filter (where nth = 1),
              sum(fee_usd) filter (where nth = 1),
              (select sum(filled) / sum(qty) from o where done >= {start_ns}),
              (select count(*) filter (where filled > 0) / count(*) from o where done >= {start_ns}),
              (select quantile_cont((first_fill - sub) / 1e6, [0.5, 0.95, 0.99]) from o
                 where done >= {start_ns} and first_fill is not null)
            from f"""
    ).fetchall()
    for key, col in (("by_symbol", "symbol"), ("by_side", "side")):
        out[key] = {
            "decisions": q(
                f"""select {col}, count(*), count(*) filter (where allow), count(*) filter (where not allow)
                    from w where event_code='POLICY_DECISION' group by 1 order by 1"""
            ).fetchall(),
            "deny_by_reason": q(
                f"select {col}, reason, count(*) from w where event_code='POLICY_DECISION' and not allow group by 1, 2"
            ).fetchall(),
            "orders": q(
                f"""select {col}, final, count(*), sum(filled), sum(filled) / sum(qty) from o
                    where done >= {start_ns} group by 1, 2"""
            ).fetchall(),
            "fills": q(f"select {col}, sum(fill_qty) from f where nth = 1 group by 1").fetchall(),
            "pnl": q(
                f"""select o.{col}, count(*), sum(realized_pnl_usd), avg((realized_pnl_usd > 0)::int),
                      avg(realized_pnl_usd),
                      sum(realized_pnl_usd) filter (where realized_pnl_usd > 0)
                        / -sum(realized_pnl_usd) filter (where realized_pnl_usd < 0)
                    from pn join o using (cid) group by 1"""
            ).fetchall(),
        }
    trade_stats = """count(*), count(*) filter (where x > 0), count(*) filter (where x < 0), avg(x),
        sum(x) filter (where x > 0) / -sum(x) filter (where x < 0), avg(x) / stddev_samp(x),
        avg(x) / sqrt(avg(least(x, 0) * least(x, 0))), avg(x) filter (where x > 0), avg(x) filter (where x < 0)"""
    out["pnl_per_trade"] = q(f"select {trade_stats} from (select realized_pnl_usd as x from pn)").fetchall()
    out["pnl_per_day"] = q(
        f"""select {trade_stats}, list(x order by d) from
            (select ts_ns // 86400000000000 as d, sum(realized_pnl_usd) as x from pn group by 1)"""
    ).fetchall()
    out["curve"] = q(
        """select count(*), max(peak - cum), last(cum order by ts_ns) from (select ts_ns, cum,
             greatest(0, max(cum) over (order by ts_ns rows unbounded preceding)) as peak from
             (select ts_ns, sum(realized_pnl_usd) over (order by ts_ns rows unbounded preceding) as cum from pn))"""
    ).fetchall()
    out["distribution_bps"] = q(
        """with b as (select realized_pnl_bps as x from pn where isfinite(realized_pnl_bps)),
                r as (select min(x) as lo, max(x) as hi, least(30, greatest(1, floor(sqrt(count(*)))))::int as k from b)
           select least(floor((x - lo) / nullif(hi - lo, 0) * k), k - 1) as bin, count(*) from b, r group by 1 order by 1"""
    ).fetchall()
    # the first allowed decision of each order carries the mid and order type the fill is judged against
    out["slippage"] = q(
        """with d as (select cid, arg_min(mid, ts_ns) as mid, arg_min(order_type, ts_ns) as order_type from w
                      where event_code='POLICY_DECISION' and allow and mid is not null and cid is not null group by cid),
                s as (select f.symbol, d.order_type, (case when f.side = 'sell' then -1 else 1 end)
                        * (f.fill_price - d.mid) / d.mid * 1e4 as bps from f join d using (cid) where nth = 1)
           select symbol, order_type, count(*), quantile_cont(bps, [0.5, 0.95, 0.99]), avg(bps), max(bps)
           from s group by grouping sets ((symbol), (order_type), ())"""
    ).fetchall()
    out["markouts"] = q(
        """with m as (select cid, horizon_s, mid from ev where event_code='RUNNER.MARKOUT' and mid is not null),
                s as (select f.symbol, m.horizon_s, (case when f.side = 'sell' then -1 else 1 end)
                        * (m.mid - f.fill_price) / f.fill_price * 1e4 as bps from f join m using (cid) where nth = 1)
           select horizon_s, symbol, count(*), quantile_cont(bps, [0.5, 0.95, 0.99]), avg(bps)
           from s group by grouping sets ((horizon_s), (horizon_s, symbol))"""
    ).fetchall()
    out["hourly"] = q(
        """select h, sum(dec), sum(deny), sum(fills), sum(trades), sum(pnl) from (
             select ts_ns // 3600000000000 as h, count(*) as dec, count(*) filter (where not allow) as deny,
                    0 as fills, 0 as trades, 0.0 as pnl from w where event_code='POLICY_DECISION' group by 1
             union all select ts_ns // 3600000000000, 0, 0, count(*), 0, 0.0 from f where nth = 1 group by 1
             union all select ts_ns // 3600000000000, 0, 0, 0, count(*), sum(realized_pnl_usd) from pn group by 1)
           group by 1 order by 1"""
    ).fetchall()
    out["latency_histograms"] = [
        q(
            f"""select floor(log10(greatest(x, 1e-6)) * 20) as b, count(*) from ({sql}) where x is not null
                group by 1 order by 1"""
        ).fetchall()
        for sql in (
            "select decision_us / 1000 as x from w where event_code='POLICY_DECISION'",
            f"select (ack - sub) / 1e6 as x from t where ack >= sub and ack >= {start_ns}",
            f"select (done - ack) / 1e6 as x from t where done >= ack and done >= {start_ns}",
        )
    ]
    out["deny_thresholds"] = q(
        """select reason, threshold.key, threshold.value, threshold.source, count(*) from w
           where event_code='POLICY_DECISION' and not allow and threshold.key is not null group by all"""
    ).fetchall()
    out["state_changes"] = q(
        """select event_code, count(*) from w where event_code like 'HEALTH.%' or event_code in ('AURORA.COOL_OFF',
             'AURORA.ESCALATION','AURORA.ARM_STATE','GOVERNANCE.KILL_SWITCH','OPS.RESET','OPS.COOLOFF') group by 1"""
    ).fetchall()




if __name__ == "__main__":
    session, window, alpha, win = sys.argv[1:5]
    out = duckdb_summary(Path(session), float(window), float(alpha), int(win), views=sys.argv[5:6] != ["core"])
    json.dump(out, sys.stdout, default=str)
