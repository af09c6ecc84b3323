"""Local engine vs Dask LocalCluster on one file, and the worker allocator setting (hand-run; no asserts).

    python bench/bench_engines.py bench/data/chat_100k.jsonl            # engines
    python bench/bench_engines.py bench/data/chat_100k.jsonl --malloc   # MinHash under MALLOC_TRIM_THRESHOLD_
    python bench/bench_engines.py FILE --only-dask --worker-memory 1.2GiB   # workers under a memory limit (spilling)

Prints one JSON line per measurement: wall seconds, CPU seconds of this process and (Dask) of
the worker processes, and for Dask the per-chunk task cost. Figures: docs/distributed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def _cpu() -> float:
    t = os.times()  # this process and its reaped children (the local pool)
    return t.user + t.system + t.children_user + t.children_system


def _worker_cpu(client) -> float:
    import psutil

    return sum(client.run(lambda: sum(psutil.Process().cpu_times()[:2])).values())


def _worker_peak_mb(client) -> dict:
    """Peak resident memory of each worker process since it started (MB)."""
    import resource

    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {addr.rsplit(":", 1)[-1]: round(mb) for addr, mb in peaks.items()}


class _PeakRss:
    """Samples this process's resident memory every 0.1 s while in the block (MB)."""

    def __enter__(self):
        import threading

        import psutil

        self.peak = 0.0
        self._stop = threading.Event()
        proc = psutil.Process()

        def sample():
            while not self._stop.wait(0.1):
                self.peak = max(self.peak, proc.memory_info().rss / 2**20)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def engines(path: str, chunk_bytes: int, workers: int, only_dask: bool = False, memory: str | None = None) -> None:
    import distributed

    from tunelint import Settings, lint
    from tunelint.executors import DaskExecutor, piece_task, Piece
    from tunelint.loader.reader import plan_chunks

    settings = Settings(fail_on="never", chunk_bytes=chunk_bytes)
    limit = Settings(worker_memory=memory).worker_memory if memory else None
    for jobs in (() if only_dask else (1, workers)):
        w, c = time.perf_counter(), _cpu()
        report = lint(path, settings=settings.replace(jobs=jobs))
        print(json.dumps({"engine": "local", "jobs": jobs, "wall": round(time.perf_counter() - w, 1),
                          "client_cpu": round(_cpu() - c, 1), "examples": report.stats["examples"]}))
    # Dask, starting its own cluster (what `--engine dask` does) ...
    if not only_dask:
        w, c = time.perf_counter(), _cpu()
        lint(path, settings=settings.replace(jobs=workers), engine="dask")
        print(json.dumps({"engine": "dask", "cluster": "started for the run", "wall": round(time.perf_counter() - w, 1),
                          "client_cpu": round(_cpu() - c, 1)}))
    # ... and connecting to one that is already up (what `--scheduler` does).
    w = time.perf_counter()
    cluster, client = DaskExecutor._local_cluster(distributed, workers, limit)
    start = time.perf_counter() - w
    try:
        before = _worker_cpu(client)
        w, c = time.perf_counter(), _cpu()
        with _PeakRss() as client_peak:
            report = lint(path, settings=settings, engine="dask", scheduler=cluster.scheduler_address)
        print(json.dumps({"engine": "dask", "cluster": "already running", "cluster_start": round(start, 1),
                          "worker_memory_limit": limit,
                          "wall": round(time.perf_counter() - w, 1), "client_cpu": round(_cpu() - c, 1),
                          "worker_cpu": round(_worker_cpu(client) - before, 1),
                          "worker_peak_rss_mb": _worker_peak_mb(client), "client_peak_rss_mb": round(client_peak.peak),
                          "findings": len(report.findings), "load_average": [round(x, 1) for x in os.getloadavg()]}))
        # Per-chunk cost on a worker: one chunk task, CPU seconds inside the worker.
        chunks = plan_chunks(path, chunk_bytes) or []
        from tunelint.loader import Loader
        from tunelint.registry import load_formats

        fmt = Loader(path, "train", load_formats()).detect()
        splits = {"train": (path,), "test": (), "reference": ()}

        def timed(piece):
            t = time.process_time()
            run, info = piece_task(piece, settings, splits)[:2]
            import pickle

            sizes = {c.name: len(pickle.dumps(c)) for c in run.checks}
            return time.process_time() - t, info.examples, sizes

        costs = client.gather([client.submit(timed, Piece("train", path, ch, fmt), pure=False) for ch in chunks[:4]])
        print(json.dumps({"chunk_bytes": chunk_bytes, "chunk_cpu_s": [round(x, 2) for x, _, _ in costs],
                          "chunk_examples": [n for _, n, _ in costs], "partial_state_bytes": costs[0][2]}))
    finally:
        client.close()
        cluster.close()


def malloc(path: str, texts: int) -> None:
    """MinHash signatures of `texts` training texts in a one-worker LocalCluster, per MALLOC setting."""
    import dask
    import distributed
    import orjson

    rows = []
    with open(path, "rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            rows.append(" ".join(m.get("content") or "" for m in rec["messages"]))
            if len(rows) >= texts:
                break

    def minhash(rows):
        from tunelint.similarity import MinHasher, TokenHasher, shingle_rows

        t = time.process_time()
        w = time.perf_counter()
        hasher, mh = TokenHasher(), MinHasher()
        for k in range(0, len(rows), 2000):
            mh.signature_rows(shingle_rows(hasher.hash_texts(rows[k:k + 2000]), 5))
        return round(time.process_time() - t, 2), round(time.perf_counter() - w, 2), os.environ.get("MALLOC_TRIM_THRESHOLD_")

    for value in ("65536", None):
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": value}):
            cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1",
                                               dashboard_address=None, scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
            client = distributed.Client(cluster, set_as_default=False)
        try:
            data = client.scatter(rows)
            results = [client.submit(minhash, data, pure=False).result() for _ in range(3)]
            print(json.dumps({"MALLOC_TRIM_THRESHOLD_": value, "texts": len(rows),
                              "cpu_s": [r[0] for r in results], "wall_s": [r[1] for r in results], "worker_env": results[0][2]}))
        finally:
            client.close()
            cluster.close()
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--chunk-bytes", type=int, default=32 << 20)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--malloc", action="store_true")
    ap.add_argument("--only-dask", action="store_true", help="skip the local runs and the cluster started for the run")
    ap.add_argument("--texts", type=int, default=20000)
    ap.add_argument("--worker-memory", help="memory limit of each worker of the cluster (e.g. 1.2GiB); Dask's default otherwise")
    a = ap.parse_args()
    if a.malloc:
        malloc(a.path, a.texts)
    else:
        engines(a.path, a.chunk_bytes, a.workers, a.only_dask, a.worker_memory)
