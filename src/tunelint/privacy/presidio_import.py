"""Importing Presidio without compiling patterns only to check them.

Importing `presidio_analyzer` defines its predefined recognizer classes (every country's), and
each builds its `Pattern` objects as the class is defined. `Pattern.__init__` compiles the regex
with the `regex` module only to check that it is valid and drops the result: 173 patterns, 0.2-0.35
CPU-s measured here, spent in the main process before the worker processes can start. The
recognizers tunelint runs compile their patterns again (with flags) when first used, and most of
the 173 are never run.

`defer_pattern_checks` installs an import hook: while the `presidio_analyzer` package itself is
being imported, `Pattern` skips that check for Presidio's own patterns (its releases are tested
with them). Once the package import is over the check is back, so a pattern built later, such as
one from a config, is still refused when it is invalid. If Presidio is already imported, or its
`Pattern` no longer has the private check this relies on, nothing changes.
"""

from __future__ import annotations

import importlib.abc
import sys
from types import ModuleType
from typing import Any, Sequence

from tunelint._imports import wrapped_spec

PACKAGE = "presidio_analyzer"
PATTERN_MODULE = "presidio_analyzer.pattern"
_CHECK = "_Pattern__validate_regex"  # Pattern.__validate_regex, name-mangled


def _skip_check(pattern: str) -> None:
    return None


class _Hook(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loaders of the package and of its pattern module."""

    def __init__(self) -> None:
        self.importing_package = False
        self.restore: tuple[type, Any] | None = None

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
        if name not in (PACKAGE, PATTERN_MODULE) or (name == PATTERN_MODULE and not self.importing_package):
            return None
        wrap = self._package if name == PACKAGE else self._pattern
        return wrapped_spec(self, name, path, target, wrap)

    def _package(self, run: Any, module: ModuleType) -> None:
        self.importing_package = True
        try:
            run(module)
        finally:
            self.importing_package = False
            uninstall(self)
            if self.restore is not None:
                cls, check = self.restore
                setattr(cls, _CHECK, check)
                self.restore = None

    def _pattern(self, run: Any, module: ModuleType) -> None:
        run(module)
        cls = getattr(module, "Pattern", None)
        check = vars(cls).get(_CHECK) if isinstance(cls, type) else None
        if isinstance(check, staticmethod):
            self.restore = (cls, check)
            setattr(cls, _CHECK, staticmethod(_skip_check))


def defer_pattern_checks() -> None:
    """Install the hook (see the module doc) unless Presidio is imported already."""
    if PACKAGE in sys.modules or any(isinstance(f, _Hook) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Hook())


def uninstall(hook: _Hook) -> None:
    if hook in sys.meta_path:
        sys.meta_path.remove(hook)
