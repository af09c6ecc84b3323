"""Configuration: file options → resolved, frozen settings.

Found as `tunelint.toml` or `[tool.tunelint]` in `pyproject.toml`, the closest to the working
directory winning; `extend = "other.toml"` inherits from another file. Per-check options live in
`[tool.tunelint.checks.<check-name>]` and are validated by that check's Options model.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tunelint.labels import LabelSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAMES = ("tunelint.toml", "pyproject.toml")
FailOn = Literal["error", "warning", "info", "never"]


class ConfigError(Exception):
    """Bad configuration: the message names the file and the key."""


CRITERIA = (
    "representative", "correct", "consistent", "diverse", "complete",
    "balanced", "privacy-reviewed", "held-out", "fit-for-fine-tuning",
)


def _check_criteria(values: tuple[str, ...] | Mapping[str, Any], key: str) -> None:
    for name in values:
        if name not in CRITERIA:
            raise ValueError(f"{key}: '{name}' is not a criterion (one of: {', '.join(CRITERIA)})")


class ScorecardSettings(BaseModel):
    """`[tool.tunelint.scorecard]`: when a criterion's status turns and what else fails the gate.

    A criterion's status comes from its worst finding (error → fail, warning → warn); `warn-below`
    and `fail-below` also turn it by score. The gate fails on severity (`fail-on`) and, when set,
    on the status of the criteria in `fail-on-criteria`, on a score under `min-score` (one number
    for every assessed criterion, or a table per criterion) and on a criterion in
    `require-assessed` that could not be assessed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    warn_below: int | None = Field(None, ge=0, le=100)
    fail_below: int | None = Field(None, ge=0, le=100)
    min_score: int | Mapping[str, int] | None = None
    fail_on_criteria: tuple[str, ...] = ()
    criteria_fail_status: Literal["warn", "fail"] = "fail"
    require_assessed: tuple[str, ...] = ()

    @field_validator("fail_on_criteria", "require_assessed")
    @classmethod
    def _known(cls, v: tuple[str, ...], info: Any) -> tuple[str, ...]:
        _check_criteria(v, info.field_name.replace("_", "-"))
        return v

    @field_validator("min_score")
    @classmethod
    def _scores(cls, v: int | Mapping[str, int] | None) -> int | Mapping[str, int] | None:
        values = [v] if isinstance(v, int) else list(v.values()) if v else []
        if isinstance(v, Mapping):
            _check_criteria(v, "min-score")
        for n in values:
            if not 0 <= n <= 100:
                raise ValueError(f"min-score {n} is outside 0..100")
        return v


class DatasetPaths(BaseModel):
    """`[tool.tunelint.datasets]`: the files `tunelint check` lints when given none (paths relative to the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: tuple[str, ...] = ()
    test: tuple[str, ...] = ()
    reference: tuple[str, ...] = ()


class PrivacySettings(BaseModel):
    """`[tool.tunelint.privacy]`: the review file that records decisions on privacy findings
    (relative to the config file; see tunelint.review)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review_file: Path | None = None


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_bytes(text: str) -> int:
    """"2GiB", "1.5 GB", "800MB" or "1073741824" as a number of bytes."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(f"'{text}' is not a size such as 2GiB, 1.5GB or 800MB")
    return int(float(match.group(1)) * _UNITS[unit])


class Settings(BaseModel):
    """Everything a run needs besides the input files. Frozen; CLI flags are merged in by `replace`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = Field(default_factory=dict)
    fail_on: FailOn = "error"
    fields: Mapping[str, str] | None = None
    input_format: str | None = None
    plugins: tuple[str, ...] = ()
    checks: Mapping[str, Mapping[str, Any]] = Field(default_factory=dict)
    deployment: Mapping[str, Any] | None = None
    # Where the labels of classification-like data are ([tool.tunelint.labels]); see tunelint.labels.
    labels: LabelSpec | None = None
    show_pii: bool = False
    # Worker processes for large files (None: one per core, up to 8) and the bytes each task reads.
    jobs: int | None = Field(default=None, ge=1)
    chunk_bytes: int = Field(default=32 << 20, ge=1 << 10)
    scorecard: ScorecardSettings = Field(default_factory=ScorecardSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    datasets: DatasetPaths | None = None
    # Where chunks run: "local" (processes on this machine) or "dask" (a Dask cluster: a local one
    # started for the run, or the one at `scheduler`, e.g. "tcp://10.0.0.5:8786"). docs/distributed.md
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    # Memory limit of each worker of the LocalCluster tunelint starts ("2GiB", "1.5GB" or bytes;
    # None: Dask's own, the machine's memory shared by the workers). Past 60 % of it a worker
    # spills what it holds to disk. A running cluster's workers have their operator's limits.
    worker_memory: int | None = Field(default=None, ge=1 << 26)
    base_dir: Path = Field(default_factory=Path.cwd)
    config_path: Path | None = None

    @field_validator("worker_memory", mode="before")
    @classmethod
    def _bytes(cls, v: Any) -> Any:
        return parse_bytes(v) if isinstance(v, str) else v

    @field_validator("fields")
    @classmethod
    def _roles(cls, v: Mapping[str, str] | None) -> Mapping[str, str] | None:
        if v is not None:
            for key, role in v.items():
                if role not in ("system", "user", "assistant"):
                    raise ValueError(f"field '{key}' maps to '{role}'; roles are system, user, assistant")
        return v

    def replace(self, **changes: Any) -> "Settings":
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return Settings(**data)


def _kebab_to_snake(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k.replace("-", "_"): v for k, v in data.items()}


def find_config(start: Path) -> Path | None:
    """The closest tunelint.toml, or pyproject.toml with a [tool.tunelint] table, at or above `start`."""
    for folder in [start, *start.parents]:
        for name in CONFIG_NAMES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            if name == "pyproject.toml":
                try:
                    if "tunelint" not in tomllib.loads(candidate.read_text("utf-8")).get("tool", {}):
                        continue
                except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
                    continue
            return candidate
    return None


def _read_table(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        return dict(data.get("tool", {}).get("tunelint", {}))
    # tunelint.toml may hold the options at top level or under [tool.tunelint].
    return dict(data.get("tool", {}).get("tunelint", data))


def load_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in _seen:
        raise ConfigError(f"{path}: 'extend' loops back to itself")
    table = _read_table(path)
    parent = table.pop("extend", None)
    if parent is None:
        return table
    base = load_raw((path.parent / parent), (*_seen, path))
    checks = {**base.get("checks", {}), **table.get("checks", {})}
    merged = {**base, **table}
    if checks:
        merged["checks"] = checks
    return merged


def load_settings(config: Path | None = None, start: Path | None = None) -> Settings:
    """Settings from an explicit config file, or the closest one found from `start`."""
    path = config if config is not None else find_config(start or Path.cwd())
    if path is None:
        return Settings()
    raw = _kebab_to_snake(load_raw(path))
    if "checks" in raw:
        if not isinstance(raw["checks"], dict):
            raise ConfigError(f"{path}: 'checks' must be a table of per-check tables")
        raw["checks"] = {name: dict(v) if isinstance(v, dict) else v for name, v in raw["checks"].items()}
    if isinstance(raw.get("scorecard"), dict):
        raw["scorecard"] = _kebab_to_snake(raw["scorecard"])
    if isinstance(raw.get("privacy"), dict):
        raw["privacy"] = _kebab_to_snake(raw["privacy"])
        if isinstance(raw["privacy"].get("review_file"), str):
            raw["privacy"]["review_file"] = path.parent / raw["privacy"]["review_file"]
    if isinstance(raw.get("datasets"), (list, str)):
        # `datasets = ["train.jsonl"]` is shorthand for the train split alone.
        raw["datasets"] = {"train": [raw["datasets"]] if isinstance(raw["datasets"], str) else raw["datasets"]}
    if "deployment" in raw and isinstance(raw["deployment"], dict):
        raw["deployment"] = {**raw["deployment"], "_base_dir": str(path.parent), "_source": str(path)}
    try:
        return Settings(**raw, base_dir=path.parent, config_path=path)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{path}: unknown option '{where.replace('_', '-')}'") from None
        raise ConfigError(f"{path}: option '{where.replace('_', '-')}': {err['msg']}") from None


STARTER = '''# tunelint configuration (https://github.com/tunelint/tunelint) — every key is optional.
[tool.tunelint]
# Which checks run: names ("near-duplicate"), codes ("D002"), code prefixes ("D") or criteria.
# select = ["F", "D", "K", "P"]
# ignore = ["system-prompt-variants"]
# Fail the gate (exit 1) on findings of at least this severity: error, warning, info or never.
fail-on = "error"
# Map a flat JSON shape onto roles when it is no known format:
# fields = { question = "user", answer = "assistant" }
# Your own checks: a .py file (relative to this file) or an installed module.
# plugins = ["checks/banned_phrases.py"]
# Files matched by a glob skip some checks:
# per-file-ignores = { "data/legacy/*.jsonl" = ["D002"] }

# Classification data: the label set, or where the label is in each output (JSON key or regex).
# [tool.tunelint.labels]
# classes = ["billing", "shipping", "returns"]
# key = "category"
# The datasets `tunelint check` (and the `tunelint-datasets` pre-commit hook) lint when given no files:
# [tool.tunelint.datasets]
# train = ["data/train.jsonl"]
# test = ["data/test.jsonl"]

# Scorecard thresholds and the gate beyond severity:
# [tool.tunelint.scorecard]
# warn-below = 90                       # a criterion scoring under this is at least "warn"
# fail-below = 60                       # ... and under this "fail"
# min-score = 70                        # the gate fails when an assessed criterion scores less
# fail-on-criteria = ["privacy-reviewed", "held-out"]   # the gate fails when these are "fail"
# criteria-fail-status = "fail"         # or "warn": fail-on-criteria also fails on "warn"
# require-assessed = ["held-out"]       # the gate fails when these could not be assessed

# Privacy: values that are fine to have (exact, or "re:" + a regex over the whole value), and the
# review file recording decisions on privacy findings (start it with `tunelint review init`):
# [tool.tunelint.checks.pii]
# allow = ["support@quillstack.com", 're:.*@example\\.com']   # 're:' + a regex over the whole value
# [tool.tunelint.privacy]
# review-file = "privacy-review.toml"

# Per-check options and severity, validated by the check:
# [tool.tunelint.checks.exceeds-context]
# max-tokens = 4096
# severity = "error"
'''
