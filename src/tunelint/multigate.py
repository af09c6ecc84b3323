"""Which of several byte patterns match in each text of a batch, answered by one Hyperscan scan.

A gate for the text checks (volatile-facts' rare patterns; `privacy.prefilter.HyperscanGate`,
the secret and content gates, is one that answers which texts any pattern marks): the batch's texts are written into one UTF-8 buffer (an Arrow array), Hyperscan scans it once
with every pattern compiled into one database, and each match is given to the text its last
byte lies in. A match that runs from one text into the next only marks the second, and
Hyperscan reports every end of every match, so for each pattern the texts it marks are a
superset of the texts it matches within: all a gate needs.

The patterns read bytes (no UTF-8 mode: its classes over every code point compile several
times slower), so a character outside ASCII is 2-4 bytes, each >= 0x80; whoever writes a
pattern makes it a superset of the test it stands for on such text. `MultiGate.__call__`
answers None when Hyperscan does not run here (not installed, no build for this CPU), cannot
take the texts or finds too many matches to hand to Python one by one: the caller then gates
the batch another way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any


class MultiGate:
    """For each text of a batch, a bit mask of the `patterns` (bit i: patterns[i]) that may match
    in it (compiled on first use, in the process that scans)."""

    # Matches per text (on average over the batch) past which a scan stops: each match is a call
    # into Python.
    MATCHES_PER_TEXT = 8

    def __init__(self, patterns: Sequence[bytes]) -> None:
        self.patterns = tuple(patterns)
        self._database: Any = None
        self._failed = False
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        return {"patterns": self.patterns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["patterns"])  # type: ignore[misc]

    def _compiled(self) -> Any:
        if self._pid != os.getpid():
            # After a fork, start afresh: the lock may have been copied held and the scratch
            # space mid-scan.
            self._lock = threading.Lock()
            self._database = None
            self._failed = False
            self._pid = os.getpid()
        if self._database is None and not self._failed:
            with self._lock:
                if self._database is None and not self._failed:
                    try:
                        import hyperscan

                        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
                        database.compile(expressions=list(self.patterns), ids=list(range(len(self.patterns))),
                                         elements=len(self.patterns), flags=0)
                    except Exception:  # not installed, no build for this machine, a pattern refused
                        self._failed = True
                    else:
                        self._database = database
        return self._database

    def runs(self) -> bool:
        """Whether Hyperscan runs here (the patterns compiled)."""
        return self._compiled() is not None

    def __call__(self, texts: Sequence[str]) -> list[int] | None:
        """Per text, the bit mask of the patterns that may match in it; None when this batch
        could not be scanned (see the module's docstring)."""
        found = self._scan(texts)
        if found is None:
            return None
        import numpy as np

        owners, ids = found
        masks = np.zeros(len(texts), dtype=np.int64)
        if len(owners):
            np.bitwise_or.at(masks, owners, np.left_shift(1, ids))
        return masks.tolist()

    def _scan(self, texts: Sequence[str]) -> tuple[Any, Any] | None:
        """(owner, pattern) of every match in the batch, as two numpy arrays; None when it could
        not be scanned."""
        import numpy as np

        if not texts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if self._compiled() is None:
            return None
        import pyarrow as pa

        try:
            array = pa.array(texts, type=pa.large_string())
        except (pa.ArrowException, UnicodeError):
            return None
        return self._scan_array(array)

    def _scan_array(self, array: Any) -> tuple[Any, Any] | None:
        """`_scan` of the texts of an Arrow large_string array (compiled already)."""
        import numpy as np

        empty = np.zeros(0, dtype=np.int64)
        database = self._compiled()
        if database is None:
            return None
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
        first, last = int(offsets[0]), int(offsets[-1])
        if last == first:
            return empty, empty
        ids: list[int] = []
        ends: list[int] = []
        add_id, add_end = ids.append, ends.append
        most = self.MATCHES_PER_TEXT * len(array)

        def on_match(pattern: int, _start: int, end: int, _flags: int, _context: Any) -> bool:
            add_id(pattern)
            add_end(end)
            return len(ends) > most  # True stops the scan

        data = memoryview(array.buffers()[2])[first:last]  # type: ignore[arg-type]
        try:
            with self._lock:  # one scratch space per database: one scan at a time
                database.scan(data, match_event_handler=on_match)
        except Exception:  # stopped (too many matches) or failed
            return None
        if not ends:
            return empty, empty
        # A match ending at byte `end` (exclusive) lies in the text whose bytes hold end - 1.
        owners = np.searchsorted(offsets, np.asarray(ends, dtype=np.int64) + first, side="left") - 1
        return owners, np.asarray(ids, dtype=np.int64)
