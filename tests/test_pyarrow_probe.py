"""pyarrow's quiet pandas probe declined in tunelint's own processes (tunelint._pyarrow): the
batch gates never import pandas there, explicit pandas uses still work."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
from hypothesis import given, settings, strategies as st

from tunelint._pyarrow import true_indices

PROBE = """
import sys
from tunelint._pyarrow import decline_pandas_probe
import pyarrow as pa, pyarrow.compute as pc

decline_pandas_probe()
gate = pc.match_substring_regex(pa.array(["ab12", "cd"], type=pa.large_string()), r"\\d").to_pylist()
after_gate = "pandas" in sys.modules
import pandas as pd

table = pa.Table.from_pandas(pd.DataFrame({"a": [1, 2]}), preserve_index=False)
print(gate, after_gate, table.to_pandas().shape, any(type(f).__name__ == "_NoPandas" for f in sys.meta_path))
"""


def test_declined_probe_keeps_pandas_out_until_asked_for():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["[True,", "False]", "False", "(2,", "1)", "False"]


def _imported(stderr: str) -> set[str]:
    """Top-level modules a `python -X importtime` run (and its forked children) imported."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_worker_processes_and_the_command_line_never_import_pandas(tmp_path):
    # Over 4 MB (the smallest chunk): read by two worker processes; and a small file, read in
    # the command line's own process. Every record passes through the content gates' pa.array.
    row = {"messages": [{"role": "user", "content": "Summarise the ticket. " * 40},
                        {"role": "assistant", "content": "The customer [NAME] wants a refund for order 1234. " * 10}]}
    big = tmp_path / "big.jsonl"
    big.write_text((json.dumps(row) + "\n") * 4_500)
    small = tmp_path / "small.jsonl"
    small.write_text((json.dumps(row) + "\n") * 50)
    for data, jobs in ((big, "2"), (small, "1")):
        out = tmp_path / f"{data.stem}.json"
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tunelint.cli", "check", str(data), "--jobs", jobs,
                               "--format", "json", "-o", str(out), "--no-progress", "--exit-zero"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        report = json.loads(out.read_text())
        assert report["stats"]["examples"] == (4_500 if data == big else 50)
        if data == big:
            assert "parallelism" not in report["stats"] and big.stat().st_size > 4 << 20
        imported = _imported(proc.stderr)
        assert "pyarrow.compute" in imported  # the gates ran
        # (the declined probe itself shows as a "pandas" line of a few microseconds: no submodule)
        assert not {name for name in imported if name.startswith("pandas.")}


@settings(deadline=None)
@given(st.lists(st.one_of(st.booleans(), st.none()), max_size=300), st.integers(0, 40), st.integers(0, 40))
def test_true_indices_reads_the_bits_as_to_pylist_does(values, start, stop_back):
    mask = pa.array(values, type=pa.bool_())
    sliced = mask[start : max(start, len(values) - stop_back)]  # an offset into the bit buffers
    for arr in (mask, sliced, pa.chunked_array([sliced, mask], type=pa.bool_())):
        expected = [i for i, v in enumerate(arr.to_pylist()) if v]
        assert true_indices(arr).tolist() == expected


LATER_PANDAS = """
import sys
from tunelint._pyarrow import decline_pandas_probe
import pyarrow as pa

decline_pandas_probe()
assert "pandas" not in sys.modules
import importlib.util
importlib.util.find_spec("pandas")  # asking whether it is there does not import it
import pandas as pd  # a plugin check or the caller's own code, after the declined probe

print(pa.array(pd.Series([1.0, None])).null_count, pa.array(pd.Series(["a"], dtype="category")).type.id == pa.dictionary(pa.int8(), pa.string()).id,
      any(type(f).__name__ == "_RearmOnPandas" for f in sys.meta_path))
"""


def test_pandas_imported_after_the_declined_probe_is_seen_by_pa_array():
    # Without the re-arm pyarrow keeps the probe's "no pandas": a Series' missing value became
    # NaN (null_count 0) and a categorical a plain string array.
    out = subprocess.run([sys.executable, "-c", LATER_PANDAS], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["1", "True", "False"]
