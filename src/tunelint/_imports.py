"""Running code around one module's import, for the import hooks tunelint installs
(`tunelint._pyarrow`, `tunelint.privacy.presidio_import`)."""

from __future__ import annotations

import sys
from typing import Any, Callable


def wrapped_spec(hook: object, name: str, path: Any, target: Any,
                 wrap: Callable[[Callable[[Any], None], Any], None]) -> Any:
    """The spec the other finders of sys.meta_path give for `name`, its loader's `exec_module`
    replaced (for this spec only) by `wrap(run, module)`, where `run(module)` executes the module.
    A hook's `find_spec` returns this: it finds nothing itself, it runs code around the import.
    """
    spec = None
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None) if finder is not hook else None
        if find is not None:
            spec = find(name, path, target)
            if spec is not None:
                break
    loader = getattr(spec, "loader", None)
    if loader is None or not hasattr(loader, "exec_module"):
        return spec
    run = loader.exec_module

    def exec_module(module: Any) -> None:
        wrap(run, module)

    loader.exec_module = exec_module
    return spec
