"""Generate the README's reference tables from the code (env overrides, event codes, order FSM).

``python -m aurora.docgen README.md`` rewrites the blocks between ``<!-- BEGIN GENERATED: NAME -->`` and
``<!-- END GENERATED: NAME -->``; ``--check`` exits 1 when the file is out of date.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from aurora.config.env_table import markdown_table as env_markdown_table
from aurora.events.codes import EventCode
from aurora.orders.fsm import TERMINAL_STATES, TRANSITIONS, OrderState


def event_codes_table() -> str:
    lines = ["| code | family |", "|---|---|"]
    for code in EventCode:
        family = code.value.split(".")[0] if "." in code.value else code.value
        lines.append(f"| `{code.value}` | {family} |")
    return "\n".join(lines)


def fsm_table() -> str:
    lines = ["| state | event → next state |", "|---|---|"]
    for state in OrderState:
        moves = [f"{ev} → {nxt.value}" for (src, ev), nxt in TRANSITIONS.items() if src is state]
        text = " · ".join(moves) if moves else ("terminal" if state in TERMINAL_STATES else "—")
        lines.append(f"| {state.value} | {text} |")
    return "\n".join(lines)


GENERATORS: dict[str, Callable[[], str]] = {
    "env-table": env_markdown_table,
    "event-codes": event_codes_table,
    "order-fsm": fsm_table,
}


def render(text: str) -> str:
    for name, gen in GENERATORS.items():
        pattern = re.compile(
            rf"(<!-- BEGIN GENERATED: {re.escape(name)} -->\n)(?:.*?\n)?(<!-- END GENERATED: {re.escape(name)} -->)",
            re.DOTALL,
        )
        text = pattern.sub(lambda m, g=gen: m.group(1) + g() + "\n" + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if not a.startswith("--")] or ["README.md"]
    stale = []
    for p in map(Path, paths):
        old = p.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            stale.append(str(p))
            if not check:
                p.write_text(new, encoding="utf-8")
    if check and stale:
        print("out of date (run `make readme-tables`): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
