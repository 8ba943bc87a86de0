"""Configuration problems, collected (never just the first) and rendered by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from aurora.errors import ConfigurationError


@dataclass(frozen=True)
class ConfigIssue:
    message: str
    source: str | None = None  # a file path, ``env:VAR`` or an argument name
    line: int | None = None
    key: str | None = None  # dotted key path
    expected: str | None = None
    got: str | None = None
    severity: Literal["error", "warning"] = "error"
    code: str = "CONFIG.INVALID"

    def location(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source + (f":{self.line}" if self.line else ""))
        if self.key:
            parts.append(self.key)
        return " ".join(parts) if parts else "config"

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


class ConfigError(ConfigurationError):
    """The configuration cannot be used. ``issues`` holds every problem found."""

    def __init__(self, issues: list[ConfigIssue], *, warnings: list[ConfigIssue] | None = None) -> None:
        self.issues = issues
        self.warnings = warnings or []
        first = issues[0] if issues else ConfigIssue("invalid configuration")
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{first.location()}: {first.message}{more}")
