"""Time the similarity machinery step by step on N synthetic ~900-character texts.

Usage: python bench/bench_similarity.py [N] [--chunk C]

Texts are drawn word by word from the vocabulary of a real instruction dataset (with its word
frequencies, plus rare made-up words for a long tail), and 1 % of them are near-copies of
another text with a few words changed, so LSH has real pairs to find. Prints CPU seconds per
step (what one free core does) and the extrapolation to 1,000,000 texts, then the same MinHash
through datasketch on a 2,000-text subset for comparison.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from tunelint.similarity import (
    MinHasher,
    TokenHasher,
    clusters,
    lsh_candidate_pairs,
    lsh_params,
    ngram_rows,
    normalise,
    shingle_rows,
    verify_pairs,
)

SOURCE = (
    Path(__file__).resolve().parents[2]
    / "shared/datasets/instruct/fastchat/alpaca_data_cleaned_1000.json"
)
WORDS_PER_TEXT = 150  # about 900 characters with this vocabulary
NEAR_COPY_SHARE = 0.01
THRESHOLD = 0.8

T = TypeVar("T")


def make_texts(count: int, seed: int = 0) -> list[str]:
    """`count` texts of ~900 characters; the last 1 % are near-copies of earlier ones."""
    records = json.loads(SOURCE.read_text(encoding="utf-8"))
    corpus = " ".join(f"{r['instruction']} {r['input']} {r['output']}" for r in records)
    frequencies = Counter(re.findall(r"\S+", corpus))
    rng = np.random.default_rng(seed)
    # A real million-text set has far more distinct words than 1,000 records: add a tail of
    # made-up words (names, codes) taking 3 % of the draws.
    tail = [f"w{value:x}" for value in rng.integers(0, 1 << 40, size=200_000)]
    vocabulary = np.array(list(frequencies) + tail, dtype=object)
    weights = np.array(list(frequencies.values()), dtype=np.float64)
    weights = np.concatenate((weights / weights.sum() * 0.97, np.full(len(tail), 0.03 / len(tail))))
    originals = count - int(count * NEAR_COPY_SHARE)
    texts: list[str] = []
    for start in range(0, originals, 10_000):
        rows = rng.choice(
            len(vocabulary), p=weights, size=(min(10_000, originals - start), WORDS_PER_TEXT)
        )
        texts.extend(" ".join(vocabulary[row]) for row in rows)
    for source in rng.integers(0, originals, size=count - originals):
        words = texts[source].split(" ")
        for position in rng.integers(0, len(words), size=2):
            words[position] = str(vocabulary[rng.integers(0, len(vocabulary))])
        texts.append(" ".join(words))
    return texts


def timed(totals: dict[str, float], step: str, function: Callable[..., T], *arguments: object) -> T:
    started = time.process_time()
    result = function(*arguments)
    totals[step] = totals.get(step, 0.0) + time.process_time() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000, help="texts per streamed batch")
    arguments = parser.parse_args()
    count = arguments.count

    started = time.perf_counter()
    texts = make_texts(count)
    print(
        f"generated {count:,} texts, mean {np.mean([len(t) for t in texts[:10_000]]):.0f} chars, "
        f"in {time.perf_counter() - started:.1f} s wall"
    )

    hasher = TokenHasher()
    minhasher = MinHasher(num_perm=128, seed=1)
    started = time.process_time()
    hasher.hash_texts(["tables for non-ASCII text: ß"])  # built once per process
    hasher.hash_normalised(["tables for non-ASCII text: ß"])
    print(f"character tables built in {time.process_time() - started:.2f} CPU s")
    totals: dict[str, float] = {}
    signatures = []
    ngram_count = 0
    wall = time.perf_counter()
    for start in range(0, count, arguments.chunk):
        chunk = texts[start : start + arguments.chunk]
        timed(totals, "normalise() per text", lambda texts: [normalise(t) for t in texts], chunk)
        timed(totals, "hash_normalised (exact dups)", hasher.hash_normalised, chunk)
        tokens = timed(totals, "tokenise + hash words", hasher.hash_texts, chunk)
        rows = timed(totals, "shingles (5-grams)", shingle_rows, tokens, 5)
        signatures.append(timed(totals, "MinHash signatures", minhasher.signature_rows, rows))
        ngram_count += len(timed(totals, "13-gram hashes", ngram_rows, tokens, 13).values)
    signature_matrix = np.concatenate(signatures)
    bands, rows_per_band = lsh_params(THRESHOLD, minhasher.num_perm)
    pairs = timed(
        totals, "LSH candidates", lsh_candidate_pairs, signature_matrix, bands, rows_per_band
    )
    similar, _ = timed(
        totals, "verify (estimated Jaccard)", verify_pairs, signature_matrix, pairs, THRESHOLD
    )
    labels = timed(totals, "clusters", clusters, count, similar)
    wall = time.perf_counter() - wall

    planted = int(count * NEAR_COPY_SHARE)
    print(
        f"LSH {bands} bands x {rows_per_band} rows: {len(pairs):,} candidates, "
        f"{len(similar):,} verified >= {THRESHOLD}, {count - len(np.unique(labels)):,} texts "
        f"in clusters of another (planted near-copies: {planted:,}); {ngram_count:,} 13-grams"
    )
    print(f"\n{'step':<32}{'CPU s':>9}{'per 1M':>10}")
    for step, seconds in totals.items():
        print(f"{step:<32}{seconds:>9.2f}{seconds * 1_000_000 / count:>10.1f}")
    # normalise() per text is timed for comparison; hash_normalised does its job in bulk.
    total = sum(s for step, s in totals.items() if not step.startswith("normalise("))
    print(f"{'total without normalise()':<32}{total:>9.2f}{total * 1_000_000 / count:>10.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"wall {wall:.1f} s; peak RSS {peak:.0f} MiB")

    compare_datasketch(texts[:2000], minhasher.num_perm)


def compare_datasketch(texts: list[str], num_perm: int) -> None:
    """datasketch's MinHash.update_batch (sha1 per shingle) on word 5-grams of the same texts."""
    from datasketch import MinHash

    started = time.process_time()
    for text in texts:
        words = normalise(text).split(" ")
        grams = {" ".join(words[i : i + 5]).encode("utf-8") for i in range(max(1, len(words) - 4))}
        minhash = MinHash(num_perm=num_perm)
        minhash.update_batch(list(grams))
    seconds = time.process_time() - started
    print(
        f"\ndatasketch MinHash.update_batch, {len(texts):,} texts: {seconds:.2f} CPU s, "
        f"{seconds * 1_000_000 / len(texts):.0f} per 1M"
    )


if __name__ == "__main__":
    main()
