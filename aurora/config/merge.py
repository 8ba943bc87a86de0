"""Layered merge that records provenance while it merges (SPEC §3).

Nested mappings merge key by key; lists and scalars replace. Every leaf keeps the list of origins
that wrote it, in order, so ``trace`` shows exactly what was loaded, not a re-derivation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Origin:
    layer: str  # defaults | base | mode | user | profile | overlay | env | derived
    source: str  # a file path, ``env:VAR`` or ``<defaults>``
    value: Any
    line: int | None = None


@dataclass
class KeyHistory:
    writes: list[Origin] = field(default_factory=list)

    @property
    def effective(self) -> Origin:
        return self.writes[-1]

    @property
    def overridden(self) -> list[Origin]:
        return self.writes[:-1]


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of a nested mapping as (dotted key, value); an empty mapping is a leaf."""
    for key, value in mapping.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            yield from flatten(value, dotted)
        else:
            yield dotted, value


class ProvenanceMerge:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.history: dict[str, KeyHistory] = {}

    def _drop_below(self, key: str) -> None:
        prefix = key + "."
        for k in [k for k in self.history if k.startswith(prefix)]:
            del self.history[k]

    def set(self, key: str, value: Any, origin: Origin) -> None:
        parts = key.split(".")
        node = self.data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                # A scalar is replaced by a mapping: its own history ends here.
                self.history.pop(".".join(parts[: i + 1]), None)
                child = node[part] = {}
            node = child
        leaf = parts[-1]
        if isinstance(node.get(leaf), dict):
            self._drop_below(key)
        node[leaf] = value
        self.history.setdefault(key, KeyHistory()).writes.append(origin)

    def apply(
        self,
        mapping: Mapping[str, Any],
        *,
        layer: str,
        source: str,
        lines: Mapping[str, int] | None = None,
    ) -> None:
        lines = lines or {}
        for key, value in flatten(mapping):
            self.set(key, value, Origin(layer, source, value, lines.get(key)))

    def origin_of(self, key: str) -> Origin | None:
        """The effective origin of ``key`` or of its nearest recorded ancestor/descendant."""
        probe = key
        while probe:
            if probe in self.history:
                return self.history[probe].effective
            probe = probe.rpartition(".")[0]
        prefix = key + "."
        for k, h in self.history.items():
            if k.startswith(prefix):
                return h.effective
        return None
