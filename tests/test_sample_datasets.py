"""The bundled sample datasets: every planted defect whose check is installed is found at its line.

`sample_datasets/defects.json` lists each defect with its file, line and check. As checks are
added, this test covers their defects automatically.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunelint import Settings, lint
from tunelint.registry import load_checks

SAMPLES = Path(__file__).resolve().parents[1] / "sample_datasets"
DEFECTS = json.loads((SAMPLES / "defects.json").read_text())
REGISTERED = set(load_checks().checks)
try:  # the agent set's long example is over its deployment's 1,024 tokens, not the 4,096 default
    import tunelint.deployment  # noqa: F401

    DEPLOYMENT = True
except ImportError:
    DEPLOYMENT = False
NEEDS_DEPLOYMENT = {("agent_chat/train.jsonl", "exceeds-context")}


def _report(dataset: str):
    folder = SAMPLES / dataset
    test = folder / "test.jsonl"
    reference = folder / "production_sample.jsonl"
    settings = Settings(fail_on="never")
    if "deployment" in Settings.model_fields and (folder / "deployment.toml").is_file():
        from tunelint.config import load_settings

        settings = load_settings(folder / "deployment.toml").replace(fail_on="never")
    return lint(
        folder / "train.jsonl",
        test=test if test.is_file() else None,
        reference=reference if reference.is_file() else None,
        settings=settings,
    )


REPORTS: dict[str, object] = {}


def report_for(dataset: str):
    if dataset not in REPORTS:
        REPORTS[dataset] = _report(dataset)
    return REPORTS[dataset]


@pytest.mark.parametrize("defect", [d for d in DEFECTS if d["check"] in REGISTERED
                                    and (DEPLOYMENT or (d["file"], d["check"]) not in NEEDS_DEPLOYMENT)],
                         ids=lambda d: f"{d['file']}:{d['line']}:{d['check']}")
def test_planted_defect_is_found(defect):
    dataset, name = defect["file"].split("/", 1)
    report = report_for(dataset)
    path_tail = f"{dataset}/{name}"
    hits = [
        f for f in report.findings
        if f.check == defect["check"] and f.location.path.endswith(path_tail) and f.location.line == defect["line"]
    ]
    assert hits, f"{defect['check']} not reported at {path_tail}:{defect['line']} ({defect['what']})"


def test_structural_checks_raise_nothing_unplanted():
    structural = {"invalid-json", "missing-assistant-turn", "empty-content", "missing-user-turn"}
    planted = {(d["file"], d["line"], d["check"]) for d in DEFECTS}
    for dataset in ("support_tickets", "agent_chat"):
        for f in report_for(dataset).findings:
            if f.check in structural:
                rel = f"{dataset}/{Path(f.location.path).name}"
                assert (rel, f.location.line, f.check) in planted, f"unplanted {f.check} at {rel}:{f.location.line}: {f.message}"
