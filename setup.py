"""Build: the package as ``pyproject.toml`` describes it, plus the decision path compiled with mypyc.

The modules :data:`aurora.native.COMPILED_MODULES` lists are compiled to C extensions beside their
sources (an editable install builds them in place); the build records what it compiled in
``aurora/native_manifest.json`` so a later edit of a source is noticed and the sources run instead.
Without a C compiler, or with ``AURORA_PURE_PYTHON=1``, the package installs interpreted (slower,
same answers), and says so.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
native = runpy.run_path(str(HERE / "aurora" / "native.py"))  # stdlib only: no dependency is installed yet
MODULES: tuple[str, ...] = native["COMPILED_MODULES"]
MANIFEST = HERE / "aurora" / "native_manifest.json"


def _say(msg: str) -> None:
    print(f"aurora build: {msg}", file=sys.stderr)


class BuildWithManifest(build_ext):
    def run(self) -> None:
        MANIFEST.unlink(missing_ok=True)  # a failed build must not leave the last one's manifest behind
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - no compiler, a compiler error: install interpreted
            # what did build goes (a group is used all or none): each module's file and the group's library
            patterns = [m.replace(".", "/") + ".*.so" for m in MODULES] + ["*__mypyc.*.so"]
            for built in (p for pattern in patterns for p in HERE.glob(pattern)):
                built.unlink()
            _say(f"could not compile the decision path ({type(exc).__name__}: {exc}); installing it interpreted")
            return
        import mypy.version

        native["write_manifest"](MODULES, HERE, MANIFEST, f"mypyc {mypy.version.__version__}")
        _say(f"decision path compiled ({len(MODULES)} modules)")


def _ext_modules() -> list:
    if os.environ.get(native["PURE_ENV"]) == "1":
        _say(f"{native['PURE_ENV']}=1: installing the interpreted decision path")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _say("mypyc not available: installing the interpreted decision path")
        return []
    paths = [str(native["source_of"](m, Path("."))) for m in MODULES]
    # the rest of the package (and its third-party imports) is type-checked only as far as the compiled
    # modules use it: its own findings are not this build's business
    return mypycify(["--follow-imports=silent", "--ignore-missing-imports", *paths], opt_level="3")


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": BuildWithManifest})
