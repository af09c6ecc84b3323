"""pyarrow without its pandas probe, in processes tunelint owns.

`pa.array(a_list)` first asks whether its input is a pandas object, and to ask it imports pandas
(~0.45 CPU-s, once per process): each worker process paid it on its first batch gate, and the
command line on any file small enough to be read in one process. Nothing tunelint passes to
pyarrow there is a pandas object.

pyarrow probes for pandas once per process, quietly ("is it installed?"), and remembers the
answer; when something later needs pandas itself (`Table.from_pandas`, `to_pandas`) it imports
it then, whatever the probe found. `decline_pandas_probe` lets that first quiet probe find no
pandas: the probe never imports it again, explicit uses still work.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from tunelint._imports import wrapped_spec


def decline_pandas_probe() -> None:
    """Make pyarrow's quiet pandas probe find nothing in this process (see the module doc).

    Does nothing when pandas is already imported: pyarrow then finds it without cost. Call it
    only while no other thread could be importing pandas (a worker's or the command line's
    start-up): for the duration of the probe `import pandas` fails.
    """
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    sys.meta_path.insert(0, _NO_PANDAS)
    try:
        pa.array([], type=pa.large_string())
    finally:
        sys.meta_path.remove(_NO_PANDAS)
    # The probe's answer sticks: `pa.array(series)` would then read a pandas object imported
    # later (by a plugin check, a library caller's own code in this process) as a plain
    # sequence (NaN for missing values, categories as strings, NaT refused). When pandas is
    # imported after all, have pyarrow look again.
    if not any(isinstance(f, _RearmOnPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _RearmOnPandas())


class _NoPandas:
    """An import finder that refuses pandas (a `None` entry in sys.modules does not do for
    Cython's import, which takes whatever sys.modules holds)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "pandas":
            raise ImportError("pandas declined for pyarrow's probe", name=name)
        return None


_NO_PANDAS = _NoPandas()


def _rearm() -> None:
    """Have pyarrow import pandas now that it is imported: its explicit-use path
    (`_pandas_api.pd`) imports it again after a declined probe and sets its pandas support up."""
    try:
        import pyarrow as pa

        pa.lib._pandas_api.pd  # noqa: B018  (the property's import is the point)
    except Exception:  # a pyarrow without this private shim: nothing to re-arm
        pass


class _RearmOnPandas:
    """An import finder that finds nothing itself: when `pandas` is imported, it lets the real
    loader run, then leaves sys.meta_path and re-arms pyarrow's pandas support (`_rearm`)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> Any:
        if name != "pandas":
            return None
        return wrapped_spec(self, name, path, target, self._imported)

    def _imported(self, run: Any, module: Any) -> None:
        run(module)
        # Only once pandas is imported (a mere `importlib.util.find_spec("pandas")` leaves it be).
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        _rearm()


def true_indices(mask: Any) -> np.ndarray:
    """Positions where an Arrow boolean array is true (null counts as false), as int64.

    Read from the array's bit buffers: `to_numpy` (and `np.asarray`) go through pyarrow's pandas
    conversion and import pandas, whatever the probe found.
    """
    import pyarrow as pa

    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    count = len(mask)
    if count == 0:
        return np.empty(0, dtype=np.int64)
    validity, values = mask.buffers()[:2]
    first = mask.offset
    bits = np.unpackbits(np.frombuffer(values, dtype=np.uint8), count=first + count, bitorder="little")[first:]
    if validity is not None and mask.null_count:
        bits &= np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=first + count, bitorder="little")[first:]
    return np.flatnonzero(bits)
