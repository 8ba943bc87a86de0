"""Secret handling: which keys are secret, placeholder detection, redaction."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

REDACTED = "***"
_SECRET_KEY_RE = re.compile(r"(token|secret|password|api_key|apikey|private_key)$", re.IGNORECASE)
PLACEHOLDER_MARKERS = (
    "changeme", "change-me", "change_me", "placeholder", "your_", "your-", "<", ">", "redacted",
    "example", "xxxx", "set-in", "todo", "dummy", "insecure",
)


def is_secret_key(dotted_key: str) -> bool:
    return bool(_SECRET_KEY_RE.search(dotted_key.rsplit(".", 1)[-1]))


def is_placeholder(value: str) -> bool:
    """True for values that are obviously not a real secret (``<set-in-.env>``, ``changeme``, ``aaaa…``)."""
    low = value.strip().lower()
    if not low:
        return True
    if len(set(low)) <= 2:
        return True
    return any(marker in low for marker in PLACEHOLDER_MARKERS)


def reveal(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def display(key: str, value: Any, *, show: bool = False) -> Any:
    """A leaf value as it may be shown to a person: secrets become ``***`` unless ``show``."""
    if value is None:
        return None
    if show:
        return reveal(value)
    if isinstance(value, SecretStr) or is_secret_key(key):
        return REDACTED
    return value


def redact_tree(tree: Any, prefix: str = "", *, show: bool = False) -> Any:
    """A copy of a nested mapping with every secret leaf replaced by ``***`` (unless ``show``)."""
    if isinstance(tree, dict):
        return {k: redact_tree(v, f"{prefix}.{k}" if prefix else str(k), show=show) for k, v in tree.items()}
    if isinstance(tree, list):
        return [redact_tree(v, prefix, show=show) for v in tree]
    if show:
        return reveal(tree)
    if isinstance(tree, SecretStr) or (tree is not None and is_secret_key(prefix)):
        return REDACTED
    return tree
