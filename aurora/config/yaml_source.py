"""Reading one YAML layer: data, the line of every key, checksum; every problem becomes an issue.

Config files come from operators and from whatever ``AURORA_CONFIG`` points at, so the reader refuses
what a plain ``yaml.safe_load`` would choke on or silently accept: files that are not regular files, too
large, binary or not UTF-8; duplicate keys (YAML keeps the last one, dropping a whole section without a
word); and alias expansion beyond :data:`MAX_NODES` (a few hundred bytes of anchors can stand for
billions of nodes, which every later step — line map, merge, validation — would walk).
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_mod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aurora.config.errors import ConfigIssue
from aurora.config.paths import unusable_file

#: A config file is a few KiB; anything this large is a mistake (or /dev/zero).
MAX_CONFIG_BYTES = 1 << 20
#: Nodes after alias expansion; a real config has a few hundred.
MAX_NODES = 20_000


@dataclass
class YamlDoc:
    path: Path
    data: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)  # dotted key -> 1-based line
    sha256: str = ""
    size: int = 0
    mtime: float = 0.0


class _Refused(Exception):
    def __init__(self, message: str, line: int | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.key = message, line, key


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _check(root: yaml.Node) -> list[ConfigIssue]:
    """Expanded size (aliases counted at every use), recursive aliases, and duplicate keys.

    Each distinct node is visited once (memoized), so this is linear in the file, not in the expansion.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    duplicates: list[tuple[str, int, int]] = []

    def size(node: yaml.Node, path: str) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Refused("recursive alias: an anchor is used inside itself", _line(node), path or None)
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                total += size(item, f"{path}[{i}]")
        elif isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                child = f"{path}.{name}" if path else str(name)
                if name is not None and key_node.tag != "tag:yaml.org,2002:merge":
                    if name in seen:
                        duplicates.append((child, _line(key_node), seen[name]))
                    else:
                        seen[name] = _line(key_node)
                total += size(key_node, child) + size(value_node, child)
        active.discard(key)
        sizes[key] = total
        if total > MAX_NODES:
            raise _Refused(
                f"alias expansion too large (more than {MAX_NODES} nodes); a config needs no such anchors",
                _line(node),
                path or None,
            )
        return total

    size(root, "")
    return [
        ConfigIssue(
            f"duplicate key {key.rsplit('.', 1)[-1]!r} (first at line {first}); YAML would keep only the last one",
            line=line,
            key=key,
            code="CONFIG.YAML",
        )
        for key, line, first in duplicates
    ]


def _key_lines(node: yaml.Node, prefix: str, out: dict[str, int]) -> None:
    if isinstance(node, yaml.SequenceNode):  # list items as ``key[i]`` (the naming of _check's paths)
        for i, item in enumerate(node.value):
            out[f"{prefix}[{i}]"] = _line(item)
            _key_lines(item, f"{prefix}[{i}]", out)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
        out[key] = key_node.start_mark.line + 1
        _key_lines(value_node, key, out)


def _read_bounded(path: Path) -> tuple[bytes, os.stat_result]:
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat_mod.S_ISREG(st.st_mode):  # replaced between the check and the open
            raise _Refused("not a regular file")
        return fh.read(MAX_CONFIG_BYTES + 1), st


def read_yaml(path: Path, *, shown: str | None = None) -> tuple[YamlDoc | None, list[ConfigIssue]]:
    """Parse ``path``. Returns the document, or ``None`` and the issues that prevent using it.

    ``shown`` is how the file is named in issues (default: the path as given).
    """
    name = shown or str(path)

    def refuse(message: str, line: int | None = None, key: str | None = None, code: str = "CONFIG.INVALID"):
        return None, [ConfigIssue(message, source=name, line=line, key=key, code=code)]

    problem = unusable_file(path)
    if problem:
        return refuse(problem)
    try:
        raw, st = _read_bounded(path)
    except _Refused as exc:
        return refuse(exc.message)
    except OSError as exc:
        return refuse(f"cannot read file: {exc.strerror or exc}")
    if len(raw) > MAX_CONFIG_BYTES:
        return refuse(f"file is larger than {MAX_CONFIG_BYTES // 1024} KiB; a config file is a few KiB of YAML")
    nul = raw.find(b"\0")
    if nul >= 0:
        return refuse(f"binary file (NUL byte at offset {nul}), expected YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return refuse(f"file is not UTF-8 text (invalid byte at offset {exc.start})")
    digest = hashlib.sha256(raw).hexdigest()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            issues = _check(node)
            if issues:
                return None, [
                    ConfigIssue(i.message, source=name, line=i.line, key=i.key, code=i.code) for i in issues
                ]
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        return refuse(exc.message, exc.line, exc.key, "CONFIG.YAML")
    except RecursionError:
        return refuse("nested too deeply to be a config file", code="CONFIG.YAML")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        msg = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        return refuse(msg, (mark.line + 1) if mark else None, code="CONFIG.YAML")
    finally:
        loader.dispose()
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
    doc = YamlDoc(path=path, data=data, lines=lines, sha256=digest, size=st.st_size, mtime=st.st_mtime)
    return doc, []
