"""Reading one YAML layer: data, the line of every key, checksum; syntax errors become issues."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aurora.config.errors import ConfigIssue


@dataclass
class YamlDoc:
    path: Path
    data: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)  # dotted key -> 1-based line
    sha256: str = ""
    size: int = 0
    mtime: float = 0.0


def _key_lines(node: yaml.Node, prefix: str, out: dict[str, int]) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
        out[key] = key_node.start_mark.line + 1
        _key_lines(value_node, key, out)


def read_yaml(path: Path, *, shown: str | None = None) -> tuple[YamlDoc | None, list[ConfigIssue]]:
    """Parse ``path``. Returns the document, or ``None`` and the issues that prevent using it.

    ``shown`` is how the file is named in issues (default: the path as given).
    """
    name = shown or str(path)
    try:
        raw = path.read_bytes()
        stat = path.stat()
    except OSError as exc:
        return None, [ConfigIssue(f"cannot read file: {exc.strerror}", source=name)]
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError:
        return None, [ConfigIssue("file is not UTF-8 text", source=name)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        msg = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        return None, [ConfigIssue(msg, source=name, line=(mark.line + 1) if mark else None, code="CONFIG.YAML")]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [
            ConfigIssue(
                "the top level must be a mapping of sections",
                source=name,
                line=1,
                expected="mapping",
                got=type(data).__name__,
            )
        ]
    lines: dict[str, int] = {}
    if node is not None:
        _key_lines(node, "", lines)
    doc = YamlDoc(path=path, data=data, lines=lines, sha256=digest, size=stat.st_size, mtime=stat.st_mtime)
    return doc, []
