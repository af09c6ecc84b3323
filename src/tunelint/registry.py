"""Discovery of checks, formats and reporters through entry points, plus user plugins from config.

Built-in checks register through the same `tunelint.checks` group as third-party ones. An entry
point names a Check class or a module with a `CHECKS` list. A plugin that fails to load is an
error naming it, never a silently thinner gate.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable

from tunelint.checks.base import Check, DatasetCheck, RecordCheck
from tunelint.models import Criterion, Severity

CODE_RE = re.compile(r"^[A-Z][0-9]{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
FAMILIES = {
    "F": "format and structure",
    "L": "length and tokens",
    "D": "duplication",
    "K": "consistency",
    "B": "balance",
    "P": "privacy",
    "M": "deployment match",
    "C": "content heuristics",
    "X": "cross-split leakage",
    "R": "representativeness",
    "T": "task fit",
}


class RegistryError(Exception):
    """A plugin could not be loaded or declares an invalid check."""


def _entry_points(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def _origin(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    pkg = f" from package '{dist.name}'" if dist is not None else ""
    return f"entry point '{ep.name}' ({ep.value}){pkg}"


def _check_classes(obj: Any, origin: str) -> list[type[Check]]:
    if inspect.isclass(obj) and issubclass(obj, Check):
        return [obj]
    if isinstance(obj, ModuleType):
        listed = getattr(obj, "CHECKS", None)
        if listed is None:
            found = [
                v for v in vars(obj).values()
                if inspect.isclass(v) and issubclass(v, Check) and v.__module__ == obj.__name__ and "code" in vars(v)
            ]
            if not found:
                raise RegistryError(f"{origin}: module defines no checks (give it a CHECKS list)")
            return sorted(found, key=lambda c: c.code)
        return [c for c in listed]
    if isinstance(obj, (list, tuple)):
        return list(obj)
    raise RegistryError(f"{origin}: expected a Check subclass or a module, got {type(obj).__name__}")


def validate_check(cls: Any, origin: str) -> None:
    if not (inspect.isclass(cls) and issubclass(cls, (RecordCheck, DatasetCheck))):
        raise RegistryError(f"{origin}: {cls!r} is not a RecordCheck or DatasetCheck subclass")
    for attr in ("code", "name", "criterion"):
        if not hasattr(cls, attr):
            raise RegistryError(f"{origin}: check {cls.__name__} has no '{attr}'")
    if not CODE_RE.match(cls.code) or cls.code[0] not in FAMILIES:
        raise RegistryError(
            f"{origin}: check {cls.__name__} has code {cls.code!r}; codes are a family letter "
            f"({', '.join(FAMILIES)}) and three digits"
        )
    if not NAME_RE.match(cls.name):
        raise RegistryError(f"{origin}: check {cls.__name__} has name {cls.name!r}; names are kebab-case")
    if not isinstance(cls.criterion, Criterion):
        raise RegistryError(f"{origin}: check {cls.name} criterion must be a tunelint.Criterion")
    if not isinstance(cls.severity, Severity):
        raise RegistryError(f"{origin}: check {cls.name} severity must be a tunelint.Severity")


@dataclass
class CheckRegistry:
    checks: dict[str, type[Check]]  # by name, sorted by code

    def by_code(self) -> dict[str, type[Check]]:
        return {c.code: c for c in self.checks.values()}

    def resolve(self, selector: str) -> list[type[Check]]:
        """Checks matching a name, a code, a code prefix ("D", "D0") or a criterion name."""
        sel = selector.strip()
        if sel in self.checks:
            return [self.checks[sel]]
        upper = sel.upper()
        if re.fullmatch(r"[A-Z][0-9]{0,3}", upper):
            return [c for c in self.checks.values() if c.code.startswith(upper)]
        return [c for c in self.checks.values() if c.criterion.value == sel]

    def find(self, name_or_code: str) -> type[Check] | None:
        if name_or_code in self.checks:
            return self.checks[name_or_code]
        return self.by_code().get(name_or_code.upper())


def load_checks(plugins: Iterable[str] = (), base_dir: Path | None = None) -> CheckRegistry:
    classes: list[tuple[type[Check], str]] = []
    for ep in _entry_points("tunelint.checks"):
        origin = _origin(ep)
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must name itself, whatever it raised
            raise RegistryError(f"{origin} failed to load: {type(exc).__name__}: {exc}") from exc
        classes += [(c, origin) for c in _check_classes(obj, origin)]
    for spec in plugins:
        origin = f"plugin '{spec}'"
        module = load_plugin_module(spec, base_dir)
        classes += [(c, origin) for c in _check_classes(module, origin)]
    checks: dict[str, type[Check]] = {}
    codes: dict[str, str] = {}
    for cls, origin in classes:
        validate_check(cls, origin)
        if cls.name in checks and checks[cls.name] is not cls:
            raise RegistryError(f"{origin}: check name '{cls.name}' is already taken by {checks[cls.name].__module__}")
        if cls.code in codes and codes[cls.code] != cls.name:
            raise RegistryError(f"{origin}: code {cls.code} of '{cls.name}' is already used by '{codes[cls.code]}'")
        checks[cls.name] = cls
        codes[cls.code] = cls.name
    ordered = dict(sorted(checks.items(), key=lambda kv: kv[1].code))
    return CheckRegistry(ordered)


def load_plugin_module(spec: str, base_dir: Path | None) -> ModuleType:
    """A user plugin named in config: a path to a .py file (relative to the config) or a module."""
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise RegistryError(f"plugin '{spec}': no such file {path}")
        mod_name = "tunelint_plugin_" + re.sub(r"\W", "_", str(path.resolve()))
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        if module_spec is None or module_spec.loader is None:
            raise RegistryError(f"plugin '{spec}': cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[mod_name]
            raise RegistryError(f"plugin '{spec}' failed to load: {type(exc).__name__}: {exc}") from exc
        return module
    try:
        return importlib.import_module(spec)
    except Exception as exc:
        raise RegistryError(f"plugin '{spec}' failed to load: {type(exc).__name__}: {exc}") from exc


def load_formats() -> dict[str, Any]:
    from tunelint.loader.formats.base import Format

    out: dict[str, Format] = {}
    for ep in _entry_points("tunelint.formats"):
        try:
            cls = ep.load()
        except Exception as exc:
            raise RegistryError(f"{_origin(ep)} failed to load: {type(exc).__name__}: {exc}") from exc
        if not (inspect.isclass(cls) and issubclass(cls, Format)):
            raise RegistryError(f"{_origin(ep)}: not a tunelint Format subclass")
        out[cls.name] = cls()
    return dict(sorted(out.items()))


def load_reporters() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ep in _entry_points("tunelint.reporters"):
        try:
            out[ep.name] = ep.load()
        except Exception as exc:
            raise RegistryError(f"{_origin(ep)} failed to load: {type(exc).__name__}: {exc}") from exc
    return out
