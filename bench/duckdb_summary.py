"""The DuckDB side of ``bench_analytics_summary``: the summary's aggregates in SQL over a session's files.

A standalone script (it imports duckdb and nothing of Aurora), run as its own process so that the two
engines are compared whole process against whole process, start-up included:

    python bench/duckdb_summary.py SESSION WINDOW_SEC CVAR_ALPHA WINDOW_TRADES > result.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_EVENT_COLUMNS = (
    "{'ts_ns': 'BIGINT', 'event_code': 'VARCHAR', 'cid': 'VARCHAR', 'details': 'STRUCT(trade_id VARCHAR, "
    "allow BOOLEAN, reason VARCHAR, decision_us DOUBLE, spread_bps DOUBLE, vol_std_bps DOUBLE, latency_ms DOUBLE, "
    "realized_pnl_usd DOUBLE, realized_pnl_bps DOUBLE, entry_p_win DOUBLE, state VARCHAR, action VARCHAR, "
    'armed BOOLEAN, halted BOOLEAN, p95_ms DOUBLE, "from" VARCHAR, "to" VARCHAR, trigger VARCHAR, rate_pct DOUBLE)\'}'
)
_ORDER_COLUMNS = "{'ts_ns': 'BIGINT', 'event_code': 'VARCHAR', 'stream': 'VARCHAR'}"


def duckdb_summary(session: Path, window_sec: float, alpha: float, win: int) -> dict[str, Any]:
    """The same aggregates as ``metrics summary``, in DuckDB SQL over the same files."""
    import duckdb

    con = duckdb.connect()
    s = str(session)
    # the consolidated orders.jsonl and its rotated parts (the per-stream files hold the same records)
    con.execute(
        f"""create temp table ev as select ts_ns, event_code, cid, details.* from read_json(
              ['{s}/*events*.jsonl', '{s}/*events*.jsonl.gz'], format='newline_delimited',
              columns={_EVENT_COLUMNS}, ignore_errors=true)
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
    q(
        """create temp table t as select cid,
             min(ts_ns) filter (where event_code='ORDER.SUBMIT') as sub,
             min(ts_ns) filter (where event_code='ORDER.ACK') as ack,
             min(ts_ns) filter (where event_code in ('ORDER.FILL','ORDER.REJECT','ORDER.CANCEL.ACK','ORDER.EXPIRE')) as done
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
    con.close()
    return out




if __name__ == "__main__":
    session, window, alpha, win = sys.argv[1:5]
    out = duckdb_summary(Path(session), float(window), float(alpha), int(win))
    json.dump(out, sys.stdout, default=str)
