"""The repository's pre-commit hooks: declared as documented, and (opt-in, slow) run through
`pre-commit try-repo` on a dirty and a clean dataset."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_hooks_file_declares_both_hooks():
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"tunelint", "tunelint-datasets"}
    staged = re.compile(hooks["tunelint"]["files"])
    for name in ("data/train.jsonl", "a.json", "b.parquet", "c.jsonl.gz"):
        assert staged.search(name), name
    for name in ("README.md", "train.csv", "script.py"):
        assert not staged.search(name), name
    assert hooks["tunelint-datasets"]["pass_filenames"] is False
    assert all(h["entry"].startswith("tunelint check") for h in hooks.values())


@pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit not installed (pip install -e .[test])")
@pytest.mark.skipif(os.environ.get("TUNELINT_PRECOMMIT") != "1",
                    reason="builds the hook's environment from the package index (minutes); set TUNELINT_PRECOMMIT=1")
def test_try_repo_fails_dirty_passes_clean():
    result = subprocess.run(["bash", str(ROOT / ".ci" / "pre-commit-try-repo.sh"), str(ROOT)],
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "fails on a dirty dataset, passes on a clean one" in result.stdout
