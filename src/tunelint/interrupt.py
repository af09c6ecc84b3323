"""Ctrl-C that is never lost.

Python turns SIGINT into a KeyboardInterrupt raised wherever the main thread happens to be. If
that is inside a `__del__` method or a weakref callback, Python prints "Exception ignored in"
and carries on: the interrupt is gone. During a run's start-up that is likely (the `regex`
module's pattern objects have a `__del__`, and Presidio compiles and drops hundreds of them while
its recognizers are built), and the run then went on to the end.

The command line installs `handler`: it raises KeyboardInterrupt as Python's own handler does
and also leaves a mark, which the engine looks at between batches and phases (`check`). A
library caller keeps its own SIGINT handling; then the mark is never set and `check` costs one
attribute read.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_state = {"interrupted": False}


def handler(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler: mark the interrupt, then raise it where the main thread is."""
    _state["interrupted"] = True
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT with `handler` (from the main thread only; elsewhere Python refuses)."""
    _state["interrupted"] = False
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)


def check() -> None:
    """Raise KeyboardInterrupt if SIGINT arrived since `install`, even if it was swallowed."""
    if _state["interrupted"]:
        raise KeyboardInterrupt
