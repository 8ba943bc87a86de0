"""``auroractl config …``: explain and validate the layered configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from aurora.config import inspect as cfg_inspect
from aurora.config.errors import ConfigError
from aurora.config.loader import Loaded, load_aurora, load_runner
from aurora.config.paths import project_root
from auroractl.output import EXIT_USAGE, Output

if TYPE_CHECKING:
    from runner.config import RunnerConfig

app = typer.Typer(help="Explain and validate the layered configuration (gate and runner).", no_args_is_help=True)

ModeArg = Annotated[
    str | None, typer.Argument(metavar="[ENV]", help="development | testnet | production (prod). Default: active mode.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
ShowSecrets = Annotated[bool, typer.Option("--show-secrets", help="Reveal secret values instead of ***.")]
RunnerOpt = Annotated[
    str | None,
    typer.Option("--runner-config", help="Also load this runner config (bare name or path, e.g. test_param)."),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="Runner profile (bare name or path).")]
OverlayOpt = Annotated[list[str] | None, typer.Option("--overlay", help="Runner overlay(s), in order.")]


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _origin(o: dict[str, Any]) -> str:
    where = o["source"] + (f":{o['line']}" if o.get("line") else "")
    return escape(f"{where} [{o['layer']}]")


def _layers_table(layers: list[dict[str, Any]], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("#", "layer", "status", "source", "sha256"):
        t.add_column(col, overflow="fold")
    for layer in layers:
        t.add_row(
            str(layer["index"]),
            layer["name"],
            layer["status"],
            escape(layer.get("path") or layer.get("note", "")),
            (layer.get("sha256") or "")[:12],
        )
    return t


def _want_runner(runner: str | None, profile: str | None, overlay: list[str] | None) -> bool:
    return bool(runner or profile or overlay)


def _load_runner(runner: str | None, profile: str | None, overlay: list[str] | None) -> Loaded[RunnerConfig]:
    from runner.config import RunnerConfig  # only when a runner config is asked for

    return load_runner(RunnerConfig, config=runner, profile=profile, overlays=overlay or [])


@app.command()
def validate(
    env: ModeArg = None,
    name: Annotated[str | None, typer.Option("--name", help="Extra layer by bare name (configs/aurora/NAME.yaml).")] = None,
    file: Annotated[str | None, typer.Option("--file", help="Extra layer by path.")] = None,
    runner: RunnerOpt = None,
    profile: ProfileOpt = None,
    overlay: OverlayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load and validate the effective config; report every problem with file, line and key.

    Example: [bold]auroractl config validate testnet[/]  ·  [bold]auroractl config validate --runner-config test_param --profile sol_soon_base[/]
    """
    out = Output()
    try:
        loaded = load_aurora(env, name=name, file=file)
        runner_loaded = _load_runner(runner, profile, overlay) if _want_runner(runner, profile, overlay) else None
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    warnings = loaded.warnings + (runner_loaded.warnings if runner_loaded else [])
    if as_json:
        out.json(
            {
                "ok": True,
                "mode": loaded.mode,
                "config_version": loaded.version,
                "runner": bool(runner_loaded),
                "warnings": [w.to_dict() for w in warnings],
            }
        )
        return
    out.success(f"gate config valid for {loaded.mode} (version {loaded.version}, mode from {loaded.mode_source})")
    if runner_loaded:
        files = ", ".join(x.path for x in runner_loaded.layers if x.kind == "file" and x.path)
        out.success(f"runner config valid ({files})")
    out.issues(warnings)


@app.command()
def trace(
    key: Annotated[str | None, typer.Option("--key", help="Only this dotted key (or section).")] = None,
    env: ModeArg = None,
    runner: RunnerOpt = None,
    profile: ProfileOpt = None,
    overlay: OverlayOpt = None,
    as_json: JsonOpt = False,
    show_secrets: ShowSecrets = False,
) -> None:
    """Show the loading sequence and, per effective key, where its value came from and what it overrode.

    Example: [bold]AURORA_MODE=testnet auroractl config trace --key guards.spread_bps_limit[/]
    """
    out = Output()
    try:
        loaded: Loaded[Any]
        if _want_runner(runner, profile, overlay):
            loaded = _load_runner(runner, profile, overlay)
            mode, mode_source = None, None
        else:
            loaded = load_aurora(env)
            mode, mode_source = loaded.mode, loaded.mode_source
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    rows = loaded.trace(key, show_secrets=show_secrets)
    if key and not rows:
        out.fail(f"unknown key {key!r}: no effective key has that path", EXIT_USAGE)
    layers = [layer.to_dict() for layer in loaded.layers]
    if as_json:
        out.json(
            {
                "domain": "runner" if mode is None else "gate",
                "mode": mode,
                "mode_source": mode_source,
                "config_version": loaded.version,
                "layers": layers,
                "keys": rows,
            }
        )
        return
    head = f"Loading sequence (mode {mode} from {mode_source})" if mode else "Loading sequence (runner)"
    out.print(_layers_table(layers, head))
    t = Table(title="Provenance", title_justify="left")
    for col in ("key", "value", "set by", "overrode"):
        t.add_column(col, overflow="fold")
    for row in rows:
        overrode = " ← ".join(f"{escape(_fmt(o['value']))} from {_origin(o)}" for o in row["overrode"]) or "—"
        t.add_row(row["key"], escape(_fmt(row["value"])), _origin(row["set_by"]), overrode)
    out.print(t)
    out.issues(loaded.warnings)


@app.command()
def status(env: ModeArg = None, as_json: JsonOpt = False, show_secrets: ShowSecrets = False) -> None:
    """Active mode, files in force, effective config (secrets redacted), version and checksum.

    Example: [bold]auroractl config status --json[/]
    """
    out = Output()
    try:
        loaded = load_aurora(env)
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    files = [x.path for x in loaded.layers if x.kind == "file" and x.status == "loaded"]
    data = {
        "mode": loaded.mode,
        "mode_source": loaded.mode_source,
        "config_version": loaded.version,
        "checksum": loaded.checksum,
        "files": files,
        "effective": loaded.effective(show_secrets=show_secrets),
    }
    if as_json:
        out.json(data)
        return
    out.print(f"mode: [bold]{loaded.mode}[/] (from {loaded.mode_source})")
    out.print(f"config version: {loaded.version}  checksum: {loaded.checksum}")
    out.print("files in force: " + ", ".join(files))
    tree = Tree("effective config")
    for section, values in data["effective"].items():
        branch = tree.add(f"[bold]{section}[/]")
        _tree_add(branch, values)
    out.print(tree)
    out.issues(loaded.warnings)


def _tree_add(branch: Tree, values: Any) -> None:
    for k, v in values.items():
        if isinstance(v, dict):
            _tree_add(branch.add(str(k)), v)
        else:
            branch.add(f"{k}: {_fmt(v)}")


@app.command()
def switch(env: Annotated[str, typer.Argument(metavar="ENV", help="development | testnet | production (prod).")]) -> None:
    """Make ENV the active mode (persisted in .aurora/active_mode; AURORA_MODE still wins). Validates first.

    Example: [bold]auroractl config switch testnet[/]
    """
    out = Output()
    try:
        loaded, path = cfg_inspect.switch(env)
    except ConfigError as exc:
        out.error(f"refusing to switch to {env!r}: its config is not valid")
        out.issues(exc.issues)
        raise typer.Exit(EXIT_USAGE) from None
    out.success(f"active mode is now {loaded.mode} (version {loaded.version}); saved to {path}")
    import os

    if os.environ.get("AURORA_MODE"):
        out.warning(f"AURORA_MODE={os.environ['AURORA_MODE']} is set and still wins over the switched mode")


@app.command()
def hierarchy(as_json: JsonOpt = False) -> None:
    """The config file tree and its precedence (lowest first).

    Example: [bold]auroractl config hierarchy[/]
    """
    out = Output()
    data = cfg_inspect.hierarchy()
    if as_json:
        out.json(data)
        return
    out.print(f"root: {data['root']}   active mode: {data['mode']} (from {data['mode_source']})")
    for domain in ("gate", "runner"):
        t = Table(title=f"{domain} layers (later wins)", title_justify="left")
        for col in ("priority", "layer", "path", "state"):
            t.add_column(col, overflow="fold")
        for row in data[domain]:
            state = "in force" if row.get("active") else ("missing" if row.get("exists") is False else "")
            if "active" in row and not row["active"] and row.get("exists") is not False:
                state = "inactive"
            t.add_row(str(row["priority"]), row["layer"], escape(row.get("path", "")), state)
        out.print(t)


@app.command()
def conflicts(env: ModeArg = None, as_json: JsonOpt = False) -> None:
    """Keys set by several layers with different values, aliases set twice, env shadowing YAML,
    legacy files present, probable typos in AURORA_* variables.

    Example: [bold]auroractl config conflicts --json[/]
    """
    out = Output()
    try:
        found, errors = cfg_inspect.conflicts(env)
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    if as_json:
        out.json({"conflicts": [c.to_dict() for c in found], "errors": [e.to_dict() for e in errors]})
        return
    if not found:
        out.success("no conflicts")
    else:
        t = Table(title=f"{len(found)} conflict(s)", title_justify="left")
        for col in ("kind", "key", "what"):
            t.add_column(col, overflow="fold")
        for c in found:
            detail = c.message
            if c.sources and c.kind == "layers":
                detail += ": " + " ← ".join(
                    f"{_fmt(s['value'])} ({s['source']}{':' + str(s['line']) if s.get('line') else ''})"
                    for s in reversed(c.sources)
                )
            t.add_row(c.kind, c.key or "", escape(detail))
        out.print(t)
    if errors:
        out.warning("the config is also invalid:")
        out.issues(errors)


@app.command()
def audit(
    env: ModeArg = None,
    save: Annotated[bool, typer.Option("--save", help="Write a timestamped report under reports/.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Checksums, mtimes and sizes of the config files and the effective-config hash.

    Example: [bold]auroractl config audit --save[/]
    """
    out = Output()
    try:
        loaded = load_aurora(env)
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    report = cfg_inspect.audit(loaded)
    saved = cfg_inspect.save_audit(report, loaded.root) if save else None
    if as_json:
        out.json({**report, "saved_to": str(saved) if saved else None})
        return
    out.print(f"mode: {report['mode']}   effective config sha256: {report['effective_config_sha256']}")
    t = Table(title="config files", title_justify="left")
    for col in ("path", "sha256", "size", "mtime"):
        t.add_column(col, overflow="fold")
    for f in report["files"]:
        t.add_row(f["path"], f.get("sha256", "")[:16], str(f.get("size", "")), f.get("mtime", ""))
    out.print(t)
    if saved:
        out.success(f"audit saved to {saved}")


@app.command()
def schema(
    out_path: Annotated[Path | None, typer.Option("--out", help="Where to write (default configs/schema.json).")] = None,
) -> None:
    """Write the JSON Schema of the gate config (for YAML editors).

    Example: [bold]auroractl config schema[/]
    """
    out = Output()
    path = out_path or project_root() / "configs" / "schema.json"
    cfg_inspect.write_schema(path)
    out.success(f"schema written to {path}")
