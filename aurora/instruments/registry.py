"""The instrument registry: per venue and symbol, what an order must respect to be accepted.

One registry serves the gate (instrument rules), the runner (price rounding, sizes), the paper venue and
one-click preflight. It is a file — the shipped snapshot (``snapshot.json`` beside this module, its
source and date inside) or one written by ``auroractl instruments fetch`` from the exchange's own
market list — read once into dicts: a lookup on the hot path is a dict access, never a file read.

An unknown symbol is an error everywhere (:class:`UnknownInstrumentError`); nothing here guesses a
tick or a lot step.

Arithmetic on steps is in binary floating point with a tolerance far below any step (a price of
61800.1 is 618001.0000000001 ticks of 0.1): ``on_step`` accepts a value within ``1e-6 + 1e-12·n`` steps
of a multiple ``n``, ``floor_to_step`` rounds down and returns the clean decimal (``0.016``, not
``0.016000000000000004``) so that what the gate answers is what the venue accepts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aurora.config.errors import ConfigError, ConfigIssue

FORMAT = "aurora.instruments/1"
SHIPPED_PATH = Path(__file__).with_name("snapshot.json")
DEFAULT_VENUE = "binanceusdm"
TRADING = "TRADING"


def step_decimals(step: float) -> int:
    """Decimal places of a step (``0.001`` -> 3, ``0.5`` -> 1, ``1`` -> 0)."""
    text = f"{step:.12f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def on_step(value: float, step: float) -> bool:
    """``value`` is a whole number of ``step`` (within float noise, see the module doc)."""
    r = value / step
    n = round(r)
    return abs(r - n) <= 1e-6 + 1e-12 * abs(n)


def floor_to_step(value: float, step: float, decimals: int | None = None) -> float:
    """``value`` rounded down to a multiple of ``step``, as the clean decimal."""
    r = value / step
    n = math.floor(r + 1e-6 + 1e-12 * abs(r))
    return round(n * step, step_decimals(step) if decimals is None else decimals)


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable symbol of one venue. Prices and notionals are in the quote currency."""

    venue: str
    symbol: str  # the venue's id (BTCUSDT)
    tick: float
    step: float
    min_qty: float
    max_qty: float | None  # limit orders (Binance LOT_SIZE)
    max_market_qty: float | None  # market orders (MARKET_LOT_SIZE); None: max_qty
    min_notional: float
    contract_size: float
    price_precision: int  # decimals of the tick
    qty_precision: int  # decimals of the step
    status: str
    base: str | None = None
    quote: str | None = None
    settle: str | None = None
    kind: str | None = None  # swap | future | spot
    ccxt_symbol: str | None = None  # ccxt's unified name (BTC/USDT:USDT)
    min_price: float | None = None
    max_price: float | None = None

    @property
    def trading(self) -> bool:
        return self.status == TRADING

    def max_qty_for(self, order_type: str) -> float | None:
        if order_type == "market" and self.max_market_qty is not None:
            return self.max_market_qty
        return self.max_qty

    def price_on_tick(self, price: float) -> bool:
        return on_step(price, self.tick)

    def qty_on_step(self, qty: float) -> bool:
        return on_step(qty, self.step)

    def floor_qty(self, qty: float) -> float:
        return floor_to_step(qty, self.step, self.qty_precision)

    def round_price(self, price: float, mode: Literal["up", "down", "nearest"] = "nearest") -> float:
        r = price / self.tick
        tol = 1e-6 + 1e-12 * abs(r)
        n = math.ceil(r - tol) if mode == "up" else math.floor(r + tol) if mode == "down" else round(r)
        return round(n * self.tick, self.price_precision)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in _SPEC_FIELDS}
        return {k: v for k, v in d.items() if v is not None}


#: The rules an order can break (:func:`order_violation`), in the order they are judged.
NOT_TRADING, PRICE_TICK, QTY_STEP, MIN_QTY, MAX_QTY, MIN_NOTIONAL = (
    "not_trading", "price_tick", "qty_step", "min_qty", "max_qty", "min_notional",
)  # fmt: skip


def order_violation(inst: Instrument, price: float | None, qty: float, order_type: str, reduce_only: bool,
                    ref_price: float) -> str | None:  # fmt: skip
    """The first rule of ``inst`` an order breaks, or None: what the venue would refuse it for.

    ``price`` is the limit price (None for a market order), ``ref_price`` what its notional is reckoned at
    (the limit price, or the touch it would take). ``reduce_only`` orders are exempt from the minimum
    notional, as on Binance. The gate's instrument guard and the paper venue both judge by this.
    """
    if inst.status != TRADING:
        return NOT_TRADING
    # on_step(), inlined: this runs for every order the gate decides
    if price is not None:
        x = price / inst.tick
        n = round(x)
        if abs(x - n) > 1e-6 + 1e-12 * n:
            return PRICE_TICK
    x = qty / inst.step
    n = round(x)
    if abs(x - n) > 1e-6 + 1e-12 * n:
        return QTY_STEP
    if qty < inst.min_qty:
        return MIN_QTY
    max_qty = inst.max_market_qty if order_type == "market" and inst.max_market_qty is not None else inst.max_qty
    if max_qty is not None and qty > max_qty:
        return MAX_QTY
    if qty * ref_price < inst.min_notional and not reduce_only:
        return MIN_NOTIONAL
    return None


class UnknownInstrumentError(LookupError):
    """No instrument of that venue and symbol is in the registry; the message says what to do."""


# --- the file format -----------------------------------------------------------------------------
class InstrumentSpec(BaseModel):
    """One entry of a registry file (``venues.<venue>.<SYMBOL>``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    tick: float = Field(gt=0, description="Price tick (the price must be a multiple of it).")
    step: float = Field(gt=0, description="Quantity (lot) step.")
    min_qty: float = Field(ge=0, description="Smallest order quantity.")
    max_qty: float | None = Field(None, gt=0, description="Largest limit-order quantity.")
    max_market_qty: float | None = Field(None, gt=0, description="Largest market-order quantity.")
    min_notional: float = Field(0.0, ge=0, description="Smallest order notional (quote currency).")
    contract_size: float = Field(1.0, gt=0)
    price_precision: int | None = Field(None, ge=0, le=18, description="Decimals of a price; default: of the tick.")
    qty_precision: int | None = Field(None, ge=0, le=18, description="Decimals of a quantity; default: of the step.")
    status: str = Field(TRADING, min_length=1, description="TRADING, or the venue's word for why not.")
    base: str | None = None
    quote: str | None = None
    settle: str | None = None
    kind: str | None = None
    ccxt_symbol: str | None = None
    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> InstrumentSpec:
        if self.max_qty is not None and self.max_qty < self.min_qty:
            raise ValueError(f"max_qty {self.max_qty:g} is below min_qty {self.min_qty:g}")
        if self.min_qty > 0 and not on_step(self.min_qty, self.step):
            raise ValueError(f"min_qty {self.min_qty:g} is not a multiple of step {self.step:g}")
        return self


_SPEC_FIELDS: tuple[str, ...] = tuple(InstrumentSpec.model_fields)


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["aurora.instruments/1"]
    source: str = Field(min_length=1, description="Where the values come from.")
    fetched_at: str = Field(min_length=1, description="When (ISO 8601, UTC).")
    venues: dict[str, dict[str, InstrumentSpec]]


def _instrument(venue: str, symbol: str, s: InstrumentSpec) -> Instrument:
    return Instrument(
        venue=venue, symbol=symbol, tick=s.tick, step=s.step, min_qty=s.min_qty, max_qty=s.max_qty,
        max_market_qty=s.max_market_qty, min_notional=s.min_notional, contract_size=s.contract_size,
        price_precision=s.price_precision if s.price_precision is not None else step_decimals(s.tick),
        qty_precision=s.qty_precision if s.qty_precision is not None else step_decimals(s.step),
        status=s.status, base=s.base, quote=s.quote, settle=s.settle, kind=s.kind, ccxt_symbol=s.ccxt_symbol,
        min_price=s.min_price, max_price=s.max_price,
    )  # fmt: skip


class InstrumentRegistry:
    def __init__(self, venues: dict[str, dict[str, Instrument]], *, source: str, fetched_at: str,
                 path: Path | None = None) -> None:  # fmt: skip
        self.venues = venues
        self.source = source
        self.fetched_at = fetched_at
        self.path = path

    def symbols(self, venue: str = DEFAULT_VENUE) -> dict[str, Instrument]:
        """The venue's instruments by symbol (empty for an unknown venue): the gate's lookup table."""
        return self.venues.get(venue, {})

    def get(self, symbol: str, venue: str = DEFAULT_VENUE) -> Instrument | None:
        return self.venues.get(venue, {}).get(symbol)

    def require(self, symbol: str, venue: str = DEFAULT_VENUE) -> Instrument:
        inst = self.get(symbol, venue)
        if inst is None:
            raise UnknownInstrumentError(self.unknown_message(symbol, venue))
        return inst

    def unknown_message(self, symbol: str, venue: str = DEFAULT_VENUE) -> str:
        known = sorted(self.symbols(venue))
        listed = ", ".join(known[:12]) + (f" and {len(known) - 12} more" if len(known) > 12 else "")
        where = str(self.path) if self.path is not None else "the instrument registry"
        return (
            f"{symbol} is not a known {venue} instrument in {where} (known: {listed or 'none'}); add it with "
            f"`auroractl instruments fetch --venue {venue} --out FILE` and point instruments.path "
            f"(AURORA_INSTRUMENTS_PATH) at that file"
        )

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path) if self.path else None, "source": self.source, "fetched_at": self.fetched_at,
                "venues": {v: len(s) for v, s in self.venues.items()}}  # fmt: skip

    def to_document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "source": self.source,
            "fetched_at": self.fetched_at,
            "venues": {v: {s: i.to_dict() for s, i in sorted(syms.items())} for v, syms in sorted(self.venues.items())},
        }

    def write(self, path: Path) -> Path:
        """Write atomically (a reader never sees half a registry)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(self.to_document(), option=orjson.OPT_INDENT_2) + b"\n")
        tmp.replace(path)
        return path


# --- loading ---------------------------------------------------------------------------------------
def _line_of(path: Path, dotted: str) -> int | None:
    """The line of a key in the file (JSON is read as YAML for this; only on the error path)."""
    from aurora.config.yaml_source import read_yaml

    doc, _ = read_yaml(path)
    if doc is None:
        return None
    while dotted:
        if dotted in doc.lines:
            return doc.lines[dotted]
        dotted = dotted.rpartition(".")[0]
    return None


def parse_registry(data: Any, path: Path) -> InstrumentRegistry:
    try:
        f = RegistryFile.model_validate(data)
    except ValidationError as exc:
        issues = []
        for e in exc.errors(include_url=False, include_input=False):
            key = ".".join(str(p) for p in e["loc"])
            issues.append(ConfigIssue(e["msg"], source=str(path), line=_line_of(path, key), key=key,
                                      code="INSTRUMENTS.INVALID"))  # fmt: skip
        raise ConfigError(issues) from None
    venues = {v: {s: _instrument(v, s, spec) for s, spec in syms.items()} for v, syms in f.venues.items()}
    return InstrumentRegistry(venues, source=f.source, fetched_at=f.fetched_at, path=path)


def load_registry(path: Path | str) -> InstrumentRegistry:
    """Read a registry file (JSON, or YAML for one written by hand). Raises :class:`ConfigError` whose
    issues name the file, line and key."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(f"cannot read the instrument registry: {exc.strerror or exc}",
                                       source=str(p), code="INSTRUMENTS.INVALID")]) from None  # fmt: skip
    if p.suffix in (".yaml", ".yml"):
        from aurora.config.yaml_source import read_yaml

        doc, issues = read_yaml(p)
        if doc is None:
            raise ConfigError(issues)
        return parse_registry(doc.data, p)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError([ConfigIssue(f"not valid JSON: {exc.msg}", source=str(p), line=exc.lineno,
                                       code="INSTRUMENTS.INVALID")]) from None  # fmt: skip
    return parse_registry(data, p)


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int) -> InstrumentRegistry:
    return load_registry(path)


def registry_at(path: Path | str | None = None) -> InstrumentRegistry:
    """The registry in ``path`` (default: the shipped snapshot), read once per file version."""
    p = Path(path) if path is not None else SHIPPED_PATH
    try:
        st = p.stat()
    except OSError:
        return load_registry(p)  # raises the error that names the file
    return _cached(str(p), st.st_mtime_ns, st.st_size)


def resolve_path(configured: str | None, root: Path | None) -> Path:
    """``instruments.path`` as configured (relative to the project root), else the shipped snapshot."""
    if not configured:
        return SHIPPED_PATH
    p = Path(configured).expanduser()
    return p if p.is_absolute() or root is None else root / p


def configured_registry(path: str | None, venue: str, root: Path | None) -> InstrumentRegistry:
    """The registry a config's ``instruments.path`` names (default: the shipped snapshot), checked to hold
    its ``instruments.venue``. Raises :class:`ConfigError` naming the file (and line) or the key."""
    registry = registry_at(resolve_path(path, root))
    if not registry.symbols(venue):
        raise ConfigError([ConfigIssue(
            f"the instrument registry {registry.path} has no instruments for venue {venue!r} "
            f"(it has: {', '.join(sorted(registry.venues)) or 'none'})", key="instruments.venue", got=venue)])
    return registry
