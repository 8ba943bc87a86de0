"""The few Arrow compute kernels the session reader and the audit use, called by name.

``import pyarrow.compute`` generates a Python wrapper for each of Arrow's several hundred kernels
(~20 ms, on the critical path of every analytics command, whose speed target is DuckDB's whole
process); the kernels are one ``call_function`` away in the Cython module those wrappers call. Should
a pyarrow release move that module, the public one has the same names: slower to import, same answers.
"""

from __future__ import annotations

from typing import Any

try:
    from pyarrow._compute import (
        CastOptions,
        DictionaryEncodeOptions,
        IndexOptions,
        MatchSubstringOptions,
        call_function,
    )
except ImportError:  # pragma: no cover - depends on the pyarrow release
    from pyarrow.compute import (  # type: ignore[no-redef]
        CastOptions,
        DictionaryEncodeOptions,
        IndexOptions,
        MatchSubstringOptions,
        call_function,
    )


def cast(arr: Any, target: Any, pool: Any = None) -> Any:
    return call_function("cast", [arr], CastOptions(target), pool)


def dictionary_encode(arr: Any, pool: Any = None) -> Any:
    return call_function("dictionary_encode", [arr], DictionaryEncodeOptions(), pool)


def drop_null(arr: Any) -> Any:
    return call_function("drop_null", [arr])


def index(arr: Any, value: Any) -> int:
    """Position of the first ``value`` in ``arr``, -1 when absent."""
    import pyarrow as pa

    return int(call_function("index", [arr], IndexOptions(pa.scalar(value, type=arr.type))).as_py())


def equal(arr: Any, value: Any) -> Any:
    return call_function("equal", [arr, value])


def lifecycle_codes(arr: Any, prefix: str, but: str) -> Any:
    """``arr`` starts with ``prefix`` and is not ``but`` (a boolean array, null where ``arr`` is)."""
    starts = call_function("starts_with", [arr], MatchSubstringOptions(prefix))
    return call_function("and", [starts, call_function("not_equal", [arr, but])])
