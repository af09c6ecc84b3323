"""Executors: where the reading and the per-chunk work of a run happen.

`lint()` builds the checks, hands them to an executor that reads every input into them, then
finishes the dataset checks, suppresses and scores on its own. Checks never see which executor
ran them: they observe examples and merge partial states, that is all.

- `LocalExecutor` (the default): one process, or a `multiprocessing` pool mapping line-aligned
  byte chunks of each plain JSONL file and folding the partial states in file order.
- `DaskExecutor` (`engine = "dask"`): the same chunk map as tasks on a Dask cluster (a
  `LocalCluster` it starts, or an existing scheduler). Workers plan the chunks (scanning byte
  ranges for line and record counts), read and check them, and merge partial check states in a
  tree of pairwise merge tasks on the workers, in file order; the client receives only small
  planning facts, per-chunk counts and the single merged state that `finish()` needs.
  See docs/distributed.md.
"""

from __future__ import annotations

import abc
import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from tunelint import textscan
from tunelint.config import ConfigError, Settings
from tunelint.loader import Chunk, Loader
from tunelint.loader.reader import RangeScan, chunk_plan, chunks_from_scans, file_size, iter_chunks, scan_range, splittable
from tunelint.models import DatasetInfo
from tunelint.registry import load_checks, load_formats

if TYPE_CHECKING:  # pragma: no cover
    from tunelint.engine import _Run

ENGINES = ("local", "dask")
INSTALL_HINT = "--engine dask needs Dask: pip install 'tunelint[dask]'"
Progress = Callable[[str, str, int], None]
Splits = Mapping[str, tuple[str, ...]]

# Environment the Dask worker processes of a LocalCluster get (before they start: glibc reads
# MALLOC_* at process start). Dask's default MALLOC_TRIM_THRESHOLD_=65536 returns freed memory
# to the OS eagerly; measured here it made the MinHash step 2.8x slower. None unsets it, so the
# worker keeps glibc's own dynamic thresholds (as a plain Python process does).
WORKER_ENV: dict[str, str | None] = {
    "MALLOC_TRIM_THRESHOLD_": None,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def _engine():  # engine imports this module; import it back lazily
    from tunelint import engine

    return engine


def _merge_infos(parts: Sequence[DatasetInfo]) -> DatasetInfo:
    first = parts[0]
    return DatasetInfo(
        split=first.split,
        path=first.path,
        format=first.format,
        lines=sum(p.lines for p in parts),
        examples=sum(p.examples for p in parts),
        rejected=sum(p.rejected for p in parts),
        formats={**first.formats, "blank_lines": sum(p.formats.get("blank_lines", 0) for p in parts)},
    )


def unmergeable_checks(run: "_Run") -> list[str]:
    from tunelint.checks.base import DatasetCheck

    return [c.name for c in run.checks if isinstance(c, DatasetCheck) and not c.mergeable]


def one_process_note(names: Sequence[str]) -> str:
    return f"one process: {', '.join(names)} cannot merge partial results"


class Executor(abc.ABC):
    """Reads every input of a run into `run`; returns one DatasetInfo per file and a parallelism note."""

    name = ""

    @abc.abstractmethod
    def read(self, run: "_Run", splits: Splits, progress: Progress | None = None) -> tuple[list[DatasetInfo], str | None]:
        """Read every input of `splits` into `run`."""

    def close(self) -> None:
        """Release processes and connections."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_executor(settings: Settings) -> Executor:
    """The executor `settings.engine` names (a ConfigError with an install hint when Dask is missing)."""
    if settings.engine == "dask":
        return DaskExecutor(settings)
    if settings.scheduler:
        raise ConfigError(f"scheduler '{settings.scheduler}' is set but the engine is local; use engine = \"dask\"")
    return LocalExecutor(settings)


# -- local ----------------------------------------------------------------------------------------

# Worker-process state of the local pool, set once per process by the pool initializer.
_WORKER: dict[str, Any] = {}


# The collector's thresholds in a worker process. A chunk allocates millions of small
# containers (examples, turns, tuples) that live for one batch and are freed by reference
# counting; the collector only finds what sits in a cycle, next to nothing (phone.py breaks
# the one phonenumbers made). At Python's default (700) generation 0 is collected every few
# hundred of them, each pass walking the batch still alive: passes every 200,000 find the same
# garbage (none, or one, per 4.5 MB chunk; 0.36-0.43 CPU-s of passes per 8 chunks at 50,000
# before the phone fix, 0.15 after it, none at 200,000).
WORKER_GC_THRESHOLDS = (200_000, 50, 100)


def _init_worker(settings: Settings, splits: Splits) -> None:
    gc.set_threshold(*WORKER_GC_THRESHOLDS)
    # Workers never hand pandas objects to Arrow: spare each the pandas import pa.array makes.
    textscan.arrow_without_pandas()
    registry = load_checks(settings.plugins, settings.base_dir)
    _WORKER.update(settings=settings, splits=splits, registry=registry, formats=load_formats())


def _run_chunk(task: tuple[str, str, Chunk, str, str | None]) -> Any:
    """A chunk's run and file info; with a spool folder, the name of the file they were pickled
    into instead (see `_unspool`)."""
    from tunelint.checks.base import CheckContext

    eng = _engine()
    path, split, chunk, fmt_name, spool = task
    settings: Settings = _WORKER["settings"]
    context = CheckContext(splits=_WORKER["splits"], settings=settings)
    run = eng._Run(eng.build_checks(_WORKER["registry"], settings, context))
    loader = Loader(path, split, _WORKER["formats"], settings.input_format, settings.fields, chunk=chunk, format_name=fmt_name)
    info = run.consume(loader)
    if spool is not None:
        # A chunk's state is tens of megabytes (signatures, shingles): through the pool's pipe
        # it goes 64 KiB at a time, the worker waiting on the main process for each piece
        # (0.05-0.12 s a chunk at 100k). Written to a file, the worker moves on at once.
        name = os.path.join(spool, f"{os.getpid()}-{chunk.start}.pickle")
        try:
            with open(name, "wb") as fh:
                pickle.dump((run, info), fh, protocol=pickle.HIGHEST_PROTOCOL)
            return name
        except OSError:  # a full or missing spool folder: the pipe still works
            with contextlib.suppress(OSError):
                os.remove(name)
    return run, info


def _unspool(result: Any) -> tuple["_Run", DatasetInfo]:
    if not isinstance(result, str):
        return result
    with open(result, "rb") as fh:
        data = fh.read()
    os.remove(result)
    return pickle.loads(data)


def _spool_folder() -> str | None:
    """A private folder for the workers' results, in memory (/dev/shm) where there is one."""
    shm = "/dev/shm"
    try:
        return tempfile.mkdtemp(prefix="tunelint-", dir=shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None)
    except OSError:
        return None


# Chunks per worker process a file is cut into at least (smaller chunks than `chunk_bytes`
# when the file is small): the last chunks to finish leave a core idle for less time.
CHUNKS_PER_JOB = 8
MIN_CHUNK_BYTES = 4 << 20


def chunk_target(size: int, chunk_bytes: int, jobs: int) -> int:
    """Bytes per chunk for a file of `size` read by `jobs` processes: `chunk_bytes` at most."""
    return min(chunk_bytes, max(MIN_CHUNK_BYTES, -(-size // (jobs * CHUNKS_PER_JOB))))


def default_jobs() -> int:
    """Processes (and finishing threads) when `jobs` is not set: one per core, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


class LocalExecutor(Executor):
    """One process, or a pool of `jobs` processes over the chunks of each plain JSONL file."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs = settings.jobs or default_jobs()
        self._pool: Any = None
        self._frozen = False
        self._spool: str | None = None

    def read(self, run: "_Run", splits: Splits, progress: Progress | None = None) -> tuple[list[DatasetInfo], str | None]:
        settings = self.settings
        formats = load_formats()
        # Splitting a file over processes needs every dataset check to merge partial states.
        unmergeable = unmergeable_checks(run)
        note = one_process_note(unmergeable) if self.jobs > 1 and unmergeable else None
        datasets: list[DatasetInfo] = []
        for split in _engine().READ_ORDER:
            for path in splits[split]:
                loader = Loader(path, split, formats, settings.input_format, settings.fields)
                plan = None
                if self.jobs > 1 and not unmergeable and not path.endswith(".txt"):
                    plan = chunk_plan(path, settings.chunk_bytes)
                target = 0 if plan is None else chunk_target(plan[0], settings.chunk_bytes, self.jobs)
                if plan is None or plan[0] <= target:
                    datasets.append(run.consume(loader, progress))
                    continue
                fmt_name = loader.detect()
                if fmt_name is None:  # unknown format: the whole-file read reports it once
                    datasets.append(run.consume(loader, progress))
                    continue
                if self._pool is None:
                    # What start-up built (modules, Presidio's recognizers, the checks) leaves
                    # the collector's generations: no pass in this process or in the forked
                    # workers walks it again, and the walks do not copy its pages.
                    # A caller that froze objects itself keeps them frozen: then nothing is
                    # frozen here, so nothing is unfrozen at the end either.
                    if gc.get_freeze_count() == 0:
                        gc.freeze()
                        self._frozen = True
                    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
                    self._pool = ctx.Pool(self.jobs, initializer=_init_worker, initargs=(settings, splits))
                # The plan is a generator: the pool's feeder thread counts the lines of the next
                # chunks while the workers check the first ones.
                chunks = iter_chunks(path, plan[0], target, taper=self.jobs, least=max(1, target // 8))
                parts = []
                done = 0
                if self._spool is None:
                    self._spool = _spool_folder() or ""
                spool = self._spool or None
                for result in self._pool.imap(_run_chunk, ((path, split, c, fmt_name, spool) for c in chunks)):
                    part, info = _unspool(result)
                    run.absorb(part)
                    parts.append(info)
                    done += info.examples
                    if progress is not None:
                        progress(split, path, done)
                datasets.append(_merge_infos(parts))
        return datasets, note

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        if self._spool:
            shutil.rmtree(self._spool, ignore_errors=True)
        self._spool = None


# -- dask -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One task's share of the input: a chunk of a file, or a whole file when `chunk` is None."""

    split: str
    path: str
    chunk: Chunk | None = None
    format_name: str | None = None


@dataclass(frozen=True)
class Probe:
    """What a worker found about a file before planning: can it be read in byte ranges, how big, which format."""

    size: int
    format_name: str | None
    splittable: bool


# Examples whose keyed rows one shuffle partition holds at most, so a worker's largest task
# stays bounded as the data grows (smaller data gets one partition per worker). Measured on the
# bench chat data: conflicting-outputs' rows are ~1.9 KB per example while its input shingles
# are kept for exact verification, and its group task peaks at ~3.5 KB per example: ~90 MB here.
EXAMPLES_PER_PARTITION = 25_000

# Registry and formats per worker process, keyed by what decides them (plugins, their base dir).
_TOOLS: dict[tuple[tuple[str, ...], str], tuple[Any, Any]] = {}


def _tools(settings: Settings) -> tuple[Any, Any]:
    key = (tuple(settings.plugins), str(settings.base_dir))
    if key not in _TOOLS:
        _TOOLS[key] = (load_checks(settings.plugins, settings.base_dir), load_formats())
    return _TOOLS[key]


def _fresh_run(settings: Settings, splits: Splits) -> "_Run":
    from tunelint.checks.base import CheckContext

    eng = _engine()
    registry, _ = _tools(settings)
    return eng._Run(eng.build_checks(registry, settings, CheckContext(splits=splits, settings=settings)))


def probe_task(path: str, split: str, settings: Settings) -> Probe:
    """On a worker: whether and how the file can be split, and its format (detected on its head)."""
    if not splittable(path):
        return Probe(0, None, False)
    _, formats = _tools(settings)
    fmt = Loader(path, split, formats, settings.input_format, settings.fields).detect()
    return Probe(file_size(path), fmt, fmt is not None)


def scan_task(path: str, lo: int, hi: int) -> RangeScan:
    """On a worker: align one byte range of a file to lines and count its lines and records."""
    return scan_range(path, lo, hi)


def piece_task(piece: Piece, settings: Settings, splits: Splits, keyed: Sequence[str] = ()) -> tuple[Any, ...]:
    """On a worker: read one piece with a fresh set of checks; their partial state and the counts.
    With `keyed` checks, also their states (kept here for the shuffle) and facts."""
    run = _fresh_run(settings, splits)
    _begin_keyed(run, keyed)
    _, formats = _tools(settings)
    loader = Loader(piece.path, piece.split, formats, settings.input_format, settings.fields,
                    chunk=piece.chunk, format_name=piece.format_name)
    info = run.consume(loader)
    if not keyed:
        return run, info
    return (run, info, *_detach(run, keyed))


def info_task(part: tuple["_Run", DatasetInfo]) -> DatasetInfo:
    return part[1]


def merge_task(left: Any, right: Any) -> "_Run":
    """On a worker: fold the later partial run into the earlier one (each partial has one consumer)."""
    a = left[0] if isinstance(left, tuple) else left
    b = right[0] if isinstance(right, tuple) else right
    a.absorb(b)
    return a


def sequential_task(order: Sequence[tuple[str, str]], settings: Settings, splits: Splits) -> tuple["_Run", list[DatasetInfo]]:
    """On one worker: read every file in order with one set of checks (some check cannot merge)."""
    run = _fresh_run(settings, splits)
    _, formats = _tools(settings)
    infos = [run.consume(Loader(path, split, formats, settings.input_format, settings.fields)) for split, path in order]
    return run, infos


# -- the keyed shuffle (checks that implement `checks.base.Keyed`) ---------------------------------
#
# Instead of carrying their partial states up the merge tree, keyed checks keep them where the
# piece was read. Each state emits rows keyed by LSH band keys (or other hashes); rows are split
# by key into partitions, one task per partition groups them into candidate pairs; candidate
# pairs are split again by pair into partitions whose tasks fetch, from the pieces that hold
# them, what verification needs of just those examples, and verify. Only the verified pairs
# and what the report needs of their examples reach the client.


def _begin_keyed(run: "_Run", names: Sequence[str]) -> None:
    """Tell a piece's keyed checks, before they observe, that they will be shuffled."""
    for name in names:
        run.by_name[name].keyed_begin()


def _detach(run: "_Run", names: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Take the keyed checks' states out of a piece's run (they stay on this worker for the
    shuffle; the run keeps empty instances of them, which merge for free): ({name: state},
    {name: facts})."""
    states: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    for i, check in enumerate(run.checks):
        if check.name not in names:
            continue
        states[check.name] = check
        facts[check.name] = check.keyed_facts()
        fresh = type(check)(check.options, check.context, check.level)
        fresh.counts.update(check.counts)
        run.checks[i] = fresh
        run.by_name[check.name] = fresh
        for rcs, dcs in run.per_split.values():
            for group in (rcs, dcs):
                for k, c in enumerate(group):
                    if c is check:
                        group[k] = fresh
    return states, facts


def emit_task(states: dict[str, Any], name: str, number: int, buckets: int, facts: list[Any]) -> list[dict[str, Any]]:
    """On a worker: a piece's keyed rows, with global ids, split by key into partitions."""
    import numpy as np

    from tunelint.checks.base import global_id

    out: list[dict[str, Any]] = [{} for _ in range(buckets)]
    for kind, rows in states[name].keyed_rows(facts).items():
        rows.ids = global_id(number, rows.ids)
        part = (np.asarray(rows.key, dtype=np.uint64) % np.uint64(buckets)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(buckets + 1))
        for b in range(buckets):
            out[b][kind] = rows.take(order[bounds[b]:bounds[b + 1]])
    return out


def collect_task(*values: Any) -> list[Any]:
    return list(values)


def pick_task(value: Any, *path: Any) -> Any:
    """On a worker: one element of a task's result (so a consumer fetches only its share)."""
    for key in path:
        value = value[key]
    return value


_PROTOTYPES: dict[tuple[str, bytes], Any] = {}


def _prototype(settings: Settings, splits: Splits, name: str) -> Any:
    """A fresh instance of a check (same options and context), built once per worker process."""
    import hashlib
    import pickle

    key = (name, hashlib.sha256(pickle.dumps((settings, dict(splits)))).digest())
    if key not in _PROTOTYPES:
        _PROTOTYPES.clear()
        _PROTOTYPES[key] = _fresh_run(settings, splits).by_name[name]
    return _PROTOTYPES[key]


def group_task(name: str, settings: Settings, splits: Splits, buckets: int, facts: list[Any], *parts: Any) -> tuple[Any, list[Any]]:
    """On a worker: one partition of the rows grouped into candidate pairs, split by pair into partitions."""
    import numpy as np

    from tunelint.checks.base import KeyRows

    kinds = {kind: KeyRows.concatenate([p[kind] for p in parts]) for kind in (parts[0] if parts else {})}
    pairs, group_facts = _prototype(settings, splits, name).keyed_candidates(kinds, facts)
    part = (np.asarray(pairs.key, dtype=np.uint64) % np.uint64(buckets)).astype(np.int64)
    return group_facts, [pairs.take(np.flatnonzero(part == b)) for b in range(buckets)]


def prepare_task(name: str, settings: Settings, splits: Splits, facts: list[Any], *group_facts: Any) -> Any:
    """On a worker: what verification and the report need from every partition's groups."""
    return _prototype(settings, splits, name).keyed_prepare(facts, list(group_facts))


def pairs_task(pieces: int, distinct: Sequence[str], *parts: Any) -> tuple[Any, list[Any]]:
    """On a worker: one partition of candidate pairs without repeats (in the pair and the
    `distinct` columns), and per piece the positions of the examples of these pairs that it holds."""
    import numpy as np

    from tunelint.checks.base import KeyRows, piece_of, position_in_piece

    pairs = KeyRows.concatenate(list(parts))
    if len(pairs):
        columns = [pairs.ids, pairs.columns["other"], *(pairs.columns[c].astype(np.int64) for c in distinct)]
        _, first = np.unique(np.stack(columns, axis=1), axis=0, return_index=True)
        pairs = pairs.take(np.sort(first))
    ids = np.unique(np.concatenate((pairs.ids, pairs.columns["other"]))) if len(pairs) else np.empty(0, np.int64)
    owner = piece_of(ids)
    wanted = [(position_in_piece(ids[owner == p]), ids[owner == p]) for p in range(pieces)]
    return pairs, wanted


def fetch_task(states: dict[str, Any], name: str, *wanted: tuple[Any, Any]) -> list[Any]:
    """On a worker: what verification needs of the wanted examples of a piece, per partition."""
    check = states[name]
    return [check.keyed_payload(positions, ids) for positions, ids in wanted]


def verify_task(name: str, settings: Settings, splits: Splits, facts: list[Any], prepared: Any, pairs: Any, *payload: Any) -> Any:
    """On a worker: one partition of candidate pairs verified."""
    return _prototype(settings, splits, name).keyed_verify(pairs, list(payload), facts, prepared)


def _adopt(run: "_Run", other: "_Run") -> None:
    """Take over the checks and findings of a run that read everything (no merge needed or possible)."""
    run.checks[:] = other.checks
    run.by_name.clear()
    run.by_name.update(other.by_name)
    run.per_split.clear()
    run.per_split.update(other.per_split)
    run.findings.extend(other.findings)
    for k, v in other.timing.items():
        run.timing[k] += v
    run.lengths.merge(other.lengths)


def _import_distributed():
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return distributed


class DaskExecutor(Executor):
    """Chunks as tasks on a Dask cluster; partial states merged on the workers in a tree, in file order."""

    name = "dask"

    def __init__(self, settings: Settings) -> None:
        distributed = _import_distributed()
        self.settings = settings
        self._cluster: Any = None
        self.client: Any = None
        if settings.scheduler:
            if settings.worker_memory is not None:
                raise ConfigError("worker-memory applies to the cluster tunelint starts; a running cluster's "
                                  "workers take their limit from their own configuration (dask worker --memory-limit)")
            self.client = self._connect(distributed, settings.scheduler)
        else:
            self._cluster, self.client = self._local_cluster(distributed, settings.jobs or os.cpu_count() or 1,
                                                             settings.worker_memory)

    @staticmethod
    def _connect(distributed: Any, address: str) -> Any:
        try:
            client = distributed.Client(address, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        try:
            client.wait_for_workers(1, timeout=60)
            from importlib.metadata import version

            mine = version("tunelint")
            theirs = client.run(version, "tunelint")
        except Exception as exc:  # a worker without tunelint, or none at all
            client.close()
            raise ConfigError(f"the Dask cluster at {address} is not ready for tunelint: {type(exc).__name__}: {exc}") from None
        other = sorted({v for v in theirs.values() if v != mine})
        if other:
            client.close()
            raise ConfigError(f"the Dask workers at {address} run tunelint {', '.join(other)}, this client {mine}: install the same version")
        return client

    @staticmethod
    def _local_cluster(distributed: Any, workers: int, memory: int | None = None) -> tuple[Any, Any]:
        import dask

        env = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()}
        # The nanny writes its pre-spawn environment into this process's os.environ: put it back.
        saved = dict(os.environ)
        try:
            with dask.config.set({**env, "dataframe.convert-string": False}):
                cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    worker_dashboard_address=None,
                    # No dashboard; the scheduler's small HTTP server (health, metrics) on a free
                    # loopback port instead of 8787.
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.ERROR,
                    memory_limit="auto" if memory is None else memory,
                )
                client = distributed.Client(cluster, set_as_default=False)
        finally:
            for k in set(os.environ) - set(saved):
                del os.environ[k]
            os.environ.update(saved)
        return cluster, client

    def read(self, run: "_Run", splits: Splits, progress: Progress | None = None) -> tuple[list[DatasetInfo], str | None]:
        order = [(split, path) for split in _engine().READ_ORDER for path in splits[split]]
        unmergeable = unmergeable_checks(run)
        # A tree of merges needs associative merges; fold-only checks get one task instead.
        unmergeable += [c.name for c in run.checks if getattr(c, "fold_only", False) and c.name not in unmergeable]
        if unmergeable:
            return self._read_sequential(run, order, splits, progress), one_process_note(unmergeable)
        return self._read_tree(run, order, splits, progress), None

    def _read_sequential(self, run: "_Run", order: list[tuple[str, str]], splits: Splits, progress: Progress | None) -> list[DatasetInfo]:
        if any(path == "-" for _, path in order):  # stdin only the client can read
            return LocalExecutor(self.settings.replace(jobs=1)).read(run, splits, progress)[0]
        future = self.client.submit(sequential_task, order, self.settings, splits, pure=False)
        other, infos = future.result()
        _adopt(run, other)
        if progress is not None:
            for info in infos:
                progress(info.split, info.path, info.examples)
        return infos

    def _plan(self, order: list[tuple[str, str]]) -> list[list[Piece]]:
        """Per file, the pieces its tasks read: planned by the workers (probe, then range scans)."""
        client, settings = self.client, self.settings
        target = settings.chunk_bytes
        probes = client.gather([
            None if path == "-" else client.submit(probe_task, path, split, settings, pure=False)
            for split, path in order
        ])
        ranges: list[tuple[int, int, int]] = []  # (file position, lo, hi)
        for i, probe in enumerate(probes):
            if probe is not None and probe.splittable and probe.size > target:
                ranges.extend((i, lo, min(lo + target, probe.size)) for lo in range(0, probe.size, target))
        scans: dict[int, list[RangeScan]] = {}
        if ranges:
            futures = client.map(scan_task, [order[i][1] for i, _, _ in ranges], [lo for _, lo, _ in ranges],
                                 [hi for _, _, hi in ranges], pure=False)
            for (i, _, _), scan in zip(ranges, client.gather(futures)):
                scans.setdefault(i, []).append(scan)
        plan: list[list[Piece]] = []
        for i, ((split, path), probe) in enumerate(zip(order, probes)):
            chunks = chunks_from_scans(scans[i]) if i in scans else []
            if len(chunks) < 2:
                plan.append([Piece(split, path)])
            else:
                plan.append([Piece(split, path, c, probe.format_name) for c in chunks])
        return plan

    def _read_tree(self, run: "_Run", order: list[tuple[str, str]], splits: Splits, progress: Progress | None) -> list[DatasetInfo]:
        distributed = _import_distributed()
        client, settings = self.client, self.settings
        plan = self._plan(order)
        pieces = [p for pieces in plan for p in pieces]
        from tunelint.checks.base import Keyed

        # Keyed checks (see `checks.base.Keyed`) are shuffled instead of merged up the tree.
        keyed = [c.name for c in run.checks if isinstance(c, Keyed) and c.keyed_wanted()]
        parts: list[Any] = []
        for number, piece in enumerate(pieces):
            if piece.path == "-":  # stdin: read here, then handed to the cluster like any chunk result
                local = _fresh_run(settings, splits)
                _begin_keyed(local, keyed)
                _, formats = _tools(settings)
                info = local.consume(Loader("-", piece.split, formats, settings.input_format, settings.fields))
                extra = _detach(local, keyed) if keyed else ()
                parts.append(client.scatter([(local, info, *extra)], hash=False)[0])
            else:
                parts.append(client.submit(piece_task, piece, settings, splits, keyed, pure=False))
        # Each element of a piece's result becomes its own task result and the tuple is let go:
        # a worker over its memory target can then spill the keyed states (held until the
        # shuffle fetched from them) without another key keeping them alive.
        states = [client.submit(pick_task, part, 2, pure=False) for part in parts] if keyed else []
        facts = {name: [client.submit(pick_task, part, 3, name, pure=False) for part in parts] for name in keyed}
        infos = client.map(info_task, parts, pure=False)
        parts = [client.submit(pick_task, part, 0, pure=False) for part in parts] if keyed else parts
        # Pairwise merges in file order: level by level, neighbours only, so "first occurrence"
        # keeps its meaning; intermediate states live and die on the workers. One tree per split,
        # then the splits folded in reading order: a check may need a whole split merged before
        # the next one joins (test-leakage indexes the complete test split before training data).
        roots = []
        for split in _engine().READ_ORDER:
            level = [part for part, piece in zip(parts, pieces) if piece.split == split]
            while len(level) > 1:
                level = [
                    client.submit(merge_task, level[k], level[k + 1], pure=False) if k + 1 < len(level) else level[k]
                    for k in range(0, len(level), 2)
                ]
            roots += level
        root = roots[0]
        for other in roots[1:]:
            root = client.submit(merge_task, root, other, pure=False)
        del parts, level, roots
        got: list[DatasetInfo | None] = [None] * len(infos)
        position = {f.key: k for k, f in enumerate(infos)}
        done: dict[tuple[str, str], int] = {}
        for future, info in distributed.as_completed(infos, loop=client.loop, with_results=True):
            got[position[future.key]] = info
            if progress is not None:
                key = (info.split, info.path)
                done[key] = done.get(key, 0) + info.examples
                progress(info.split, info.path, done[key])
        buckets = self._buckets(len(pieces), sum(info.examples for info in got if info is not None))
        shuffled = {name: self._shuffle(run.by_name[name], facts.pop(name), states, buckets, splits) for name in keyed}
        del states
        final = root.result()
        if isinstance(final, tuple):  # a single piece: no merge ran
            final = final[0]
        del root, infos
        run.absorb(final)
        for name, result in shuffled.items():
            run.by_name[name].keyed_adopt(*result)
        datasets: list[DatasetInfo] = []
        k = 0
        for pieces in plan:
            datasets.append(_merge_infos([g for g in got[k:k + len(pieces)] if g is not None]))
            k += len(pieces)
        return datasets

    def _buckets(self, pieces: int, examples: int) -> int:
        """Partitions of a shuffle: one per worker (no more than there are pieces), more when
        the data is large, so that one group task holds the rows of at most about
        `EXAMPLES_PER_PARTITION` examples."""
        try:
            workers = len(self.client.scheduler_info().get("workers", {}))
        except Exception:  # pragma: no cover - a scheduler that does not answer
            workers = 1
        return max(1, min(pieces, workers), -(-examples // EXAMPLES_PER_PARTITION))

    def _shuffle(self, check: Any, facts: list[Any], states: list[Any], buckets: int, splits: Splits) -> tuple[Any, ...]:
        """Run one keyed check's shuffle over the pieces' states (see `checks.base.Keyed`);
        returns what its `keyed_adopt` takes. The whole graph is submitted at once; the client
        waits for the facts, the prepared group facts and the verified pairs only."""
        import numpy as np

        from tunelint.checks.base import piece_of, position_in_piece

        client, settings = self.client, self.settings
        name = check.name
        pieces = len(states)

        def pick(future: Any, *path: Any) -> Any:
            return client.submit(pick_task, future, *path, pure=False)

        facts_f = client.submit(collect_task, *facts, pure=False)
        del facts
        emitted = [client.submit(emit_task, st, name, number, buckets, facts_f, pure=False) for number, st in enumerate(states)]
        groups = [
            client.submit(group_task, name, settings, splits, buckets, facts_f, *[pick(e, b) for e in emitted], pure=False)
            for b in range(buckets)
        ]
        del emitted
        prepared_f = client.submit(prepare_task, name, settings, splits, facts_f, *[pick(g, 0) for g in groups], pure=False)
        distinct = tuple(type(check).keyed_distinct)
        candidates = [client.submit(pairs_task, pieces, distinct, *[pick(g, 1, v) for g in groups], pure=False)
                      for v in range(buckets)]
        del groups
        fetched = [
            client.submit(fetch_task, st, name, *[pick(c, 1, p) for c in candidates], pure=False)
            for p, st in enumerate(states)
        ]
        verified_f = [
            client.submit(verify_task, name, settings, splits, facts_f, prepared_f, pick(c, 0),
                          *[pick(f, v) for f in fetched], pure=False)
            for v, c in enumerate(candidates)
        ]
        del candidates, fetched
        facts, prepared, verified = client.gather([facts_f, prepared_f, verified_f])
        del facts_f, prepared_f, verified_f
        # What the report needs of the examples it names: from the pieces holding them.
        members = np.asarray(check.keyed_members(verified, facts, prepared), dtype=np.int64)
        owner = piece_of(members)
        wanted = [(p, members[owner == p]) for p in np.unique(owner).tolist()]
        payload = client.gather([
            client.submit(fetch_task, states[p], name, (position_in_piece(ids), ids), pure=False) for p, ids in wanted
        ])
        return facts, prepared, verified, [parts[0] for parts in payload]

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
