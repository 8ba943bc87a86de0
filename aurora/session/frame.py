"""Columns of session records as numpy arrays: what the reader returns and the analytics work on.

Numbers are ``float64`` (NaN = absent; booleans are 1.0 / 0.0 / NaN so that a missing value never makes an
object column), ``ts_ns`` is ``int64``, and strings are :class:`Labels`: integer codes into the distinct
values (``-1`` = absent), so that grouping, masking and counting never touch a Python string per row.
No pandas: it costs a third of a second to import and a copy of every column to convert into.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np


class Labels:
    """A string column: ``codes`` (int32, -1 = absent) into ``values`` (distinct strings).

    ``values`` may be given as an Arrow string array (the reader's dictionary): it stays one compact
    buffer until a Python list of it is asked for, which matters for millions of order ids.
    """

    __slots__ = ("codes", "_values", "_index")

    def __init__(self, codes: np.ndarray, values: Any) -> None:
        codes = np.asarray(codes)
        # int8 / int16 codes are kept (a few distinct values: 1-2 bytes a row instead of 4)
        self.codes = codes if codes.dtype in (np.int8, np.int16, np.int32) else codes.astype(np.int32)
        self._values = values if not isinstance(values, tuple | dict) else list(values)
        self._index: dict[str, int] | None = None

    @property
    def values(self) -> list[str]:
        if not isinstance(self._values, list):
            self._values = self._values.to_pylist()
        return self._values

    @property
    def nvalues(self) -> int:
        return len(self._values)

    def value(self, code: int) -> str | None:
        """The string of one code (without listing every value)."""
        if code < 0:
            return None
        v = self._values[code]
        return v if isinstance(v, str) else v.as_py()

    def find(self, value: str) -> int:
        """The code of ``value`` (-1 when absent), without listing every value of a large dictionary."""
        if isinstance(self._values, list):
            return self.index(value)
        from aurora.session.arrow_kernels import index

        return index(self._values, value)

    def __len__(self) -> int:
        return int(self.codes.size)

    def __repr__(self) -> str:
        return f"Labels({len(self)} rows, {len(self.values)} values)"

    def index(self, value: str) -> int:
        """The code of ``value`` (-1 when it does not occur)."""
        if self._index is None:
            self._index = {v: i for i, v in enumerate(self.values)}
        return self._index.get(value, -1)

    def lut(self, pick: Iterable[int] | np.ndarray) -> np.ndarray:
        """A lookup table over the codes (one slot more for -1, always False) with ``pick`` codes True."""
        t = np.zeros(self.nvalues + 1, dtype=bool)
        t[np.asarray(list(pick) if not isinstance(pick, np.ndarray) else pick, dtype=np.int64)] = True
        t[-1] = False
        return t

    def isin(self, values: Iterable[str]) -> np.ndarray:
        codes = [c for c in (self.index(v) for v in values) if c >= 0]
        return self.lut(codes)[self.codes]

    def where(self, predicate: Any) -> np.ndarray:
        """Rows whose value satisfies ``predicate(str)`` (evaluated once per distinct value)."""
        return self.lut([i for i, v in enumerate(self.values) if predicate(v)])[self.codes]

    def take(self, idx: np.ndarray) -> Labels:
        return Labels(self.codes[idx], self._values)

    def get(self, i: int) -> str | None:
        return self.value(int(self.codes[i]))

    def tolist(self) -> list[str | None]:
        return [None if c < 0 else self.values[c] for c in self.codes.tolist()]

    def counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        """Counts by value of the rows under ``mask``, most frequent first (absent values left out)."""
        codes = self.codes if mask is None else self.codes[mask]
        n = np.bincount(codes[codes >= 0], minlength=len(self.values))
        order = np.argsort(-n, kind="stable")
        return {self.values[i]: int(n[i]) for i in order.tolist() if n[i]}

    def recode(self, mapping: Any) -> Labels:
        """The same column with each value replaced by ``mapping(value)`` (values that collide merge)."""
        new = [mapping(v) for v in self.values]
        uniq = list(dict.fromkeys(new))
        pos = {v: i for i, v in enumerate(uniq)}
        table = np.array([pos[v] for v in new] + [-1], dtype=np.int32)
        return Labels(table[self.codes], uniq)

    @staticmethod
    def concat(parts: Sequence[Labels]) -> Labels:
        values: dict[str, int] = {}
        codes = []
        for p in parts:
            table = np.array([values.setdefault(v, len(values)) for v in p.values] + [-1], dtype=np.int32)
            codes.append(table[p.codes])
        return Labels(np.concatenate(codes) if codes else np.zeros(0, dtype=np.int32), list(values))


Column = np.ndarray | Labels


class Frame:
    """Named columns of equal length (a tiny, typed stand-in for a data frame)."""

    __slots__ = ("cols", "n")

    def __init__(self, cols: dict[str, Column], n: int | None = None) -> None:
        self.cols = cols
        self.n = n if n is not None else (len(next(iter(cols.values()))) if cols else 0)

    def __len__(self) -> int:
        return self.n

    def __contains__(self, name: object) -> bool:
        return name in self.cols

    def __getitem__(self, name: str) -> Any:
        return self.cols[name]

    def __setitem__(self, name: str, col: Column) -> None:
        self.cols[name] = col

    def __iter__(self) -> Iterator[str]:
        return iter(self.cols)

    def get(self, name: str) -> Any:
        return self.cols.get(name)

    def labels(self, name: str) -> Labels:
        col = self.cols.get(name)
        if isinstance(col, Labels):
            return col
        return Labels(np.full(self.n, -1, dtype=np.int32), [])

    def keys(self, name: str) -> np.ndarray:
        """A string column as integer keys (-1 = absent): its codes, or the hashed keys it was read as."""
        col = self.cols.get(name)
        if isinstance(col, Labels):
            return col.codes
        return col if isinstance(col, np.ndarray) else np.full(self.n, -1, dtype=np.int32)

    def floats(self, name: str) -> np.ndarray:
        col = self.cols.get(name)
        return col if isinstance(col, np.ndarray) else np.full(self.n, np.nan)

    def take(self, idx: np.ndarray) -> Frame:
        idx = np.asarray(idx)
        n = int(idx.sum()) if idx.dtype == bool else int(idx.size)
        return Frame({k: (c.take(idx) if isinstance(c, Labels) else c[idx]) for k, c in self.cols.items()}, n)

    def row(self, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, c in self.cols.items():
            if isinstance(c, Labels):
                out[k] = c.get(i)
            else:
                v = c[i].item()
                out[k] = None if isinstance(v, float) and v != v else v
        return out
