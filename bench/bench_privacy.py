"""Benchmark of the privacy detectors on generated chat turns, with and without the prefilter.

Generates N chat-like turns (default 100,000; ~3 % carry planted PII, ~30 % ordinary numbers
such as prices, dates, order numbers and versions), then times `PiiDetector.detect_many` with
the prefilter, without it, and `SecretDetector.detect_many`, and extrapolates to 1M turns.

    PYTHONPATH=src python bench/bench_privacy.py [--n 100000] [--unfiltered-sample 100000]
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable

from tunelint.privacy import PiiDetector, SecretDetector

WORDS = (
    "the a to and of in for is that it you with on this be are as can your have will i not or "
    "what how we my should please help me write explain code data model training example could "
    "would about make sure list function error file python answer question user assistant step "
    "first then next value return string number table report email summary plan week meeting "
    "customer order price account issue thanks great idea because when which where why"
).split()


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d)
        if i % 2 == 0:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return body + str((10 - total % 10) % 10)


def _grouped(card: str) -> str:
    return " ".join(card[i : i + 4] for i in range(0, len(card), 4))


def _iban(rng: random.Random) -> str:
    bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(
        rng.choice(string.digits) for _ in range(14)
    )
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    return f"GB{98 - int(numeric) % 97:02d}{bban}"


def _pii_snippets(rng: random.Random) -> list[Callable[[], str]]:
    first = ["ana", "li", "sam", "maria", "john", "priya", "kofi", "lena"]
    return [
        lambda: (
            f"{rng.choice(first)}.{rng.choice(first)}{rng.randint(1, 99)}@"
            f"{rng.choice(['gmail.com', 'outlook.com', 'acme.io'])}"
        ),
        lambda: (
            f"call me at ({rng.randint(201, 989)}) "
            f"{rng.randint(200, 989)}-{rng.randint(1000, 9999)}"
        ),
        lambda: f"+44 20 {rng.randint(7000, 8999)} {rng.randint(1000, 9999)}",
        lambda: _grouped(_luhn_complete(rng.choice(["4", "51", "55", "2221"]), 16, rng)),
        lambda: _iban(rng),
        lambda: f"SSN {rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        lambda: ".".join(
            str(rng.randint(lo, hi)) for lo, hi in ((11, 223), (0, 255), (0, 255), (1, 254))
        ),
    ]


def _ordinary_snippets(rng: random.Random) -> list[Callable[[], str]]:
    return [
        lambda: f"${rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.randint(10, 99)}",
        lambda: f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        lambda: f"order #{rng.randint(10**6, 10**9)}",
        lambda: f"v{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
        lambda: f"at {rng.randint(0, 23)}:{rng.randint(0, 59):02d}",
        lambda: f"{rng.randint(10, 999)} * {rng.randint(10, 99)} = {rng.randint(100, 99999)}",
        lambda: f"in {rng.randint(1950, 2030)}",
        lambda: f"{rng.randint(1, 100)}%",
        lambda: f"{rng.randint(1, 500)} ms",
        lambda: f"invoice {rng.randint(2019, 2025)}-{rng.randint(0, 999999):06d}",
        lambda: f"{rng.randint(1000, 99999):,} users",
    ]


def generate(
    n: int, pii_share: float = 0.03, number_share: float = 0.30, seed: int = 1
) -> tuple[list[str], set[int]]:
    """`n` chat-like turns and the indices of those that carry a planted PII value."""
    rng = random.Random(seed)
    pii, ordinary = _pii_snippets(rng), _ordinary_snippets(rng)
    texts: list[str] = []
    planted: set[int] = set()
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(40, 120))]
        if rng.random() < number_share:
            for _ in range(rng.randint(1, 3)):
                words.insert(rng.randrange(len(words)), rng.choice(ordinary)())
        if rng.random() < pii_share:
            words.insert(rng.randrange(len(words)), rng.choice(pii)())
            planted.add(len(texts))
        texts.append(" ".join(words) + ".")
    return texts, planted


def _timed(label: str, run: Callable[[], list], n: int) -> tuple[list, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(
        f"{label:28} {n:>8,} texts  {wall:8.2f} s wall  {cpu:8.2f} s CPU  "
        f"{n / cpu:>10,.0f} texts/CPU-s  -> 1M: {cpu * 1_000_000 / n:8.1f} CPU-s"
    )
    return result, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="texts to generate")
    parser.add_argument(
        "--unfiltered-sample",
        type=int,
        default=None,
        help="time the no-prefilter run on only this many of the texts (default: all)",
    )
    args = parser.parse_args()

    texts, planted = generate(args.n)
    chars = sum(map(len, texts))
    print(
        f"{args.n:,} texts, {chars / args.n:.0f} chars each on average, "
        f"{len(planted):,} with planted PII"
    )

    detector = PiiDetector(ner="off")
    passing = sum(1 for t in texts if detector.entities_to_check(t))
    print(f"prefilter passes {passing:,} texts ({passing / args.n:.1%})")

    filtered, _ = _timed("pii, prefilter", lambda: detector.detect_many(texts), args.n)
    flagged = {i for i, spans in enumerate(filtered) if spans}
    print(
        f"  planted texts found: {len(flagged & planted):,} / {len(planted):,}; "
        f"texts flagged with nothing planted: {len(flagged - planted):,}"
    )

    sample = texts[: args.unfiltered_sample] if args.unfiltered_sample else texts
    unfiltered_detector = PiiDetector(ner="off", prefilter=False)
    unfiltered, _ = _timed(
        "pii, no prefilter", lambda: unfiltered_detector.detect_many(sample), len(sample)
    )
    differing = sum(1 for a, b in zip(filtered, unfiltered, strict=False) if a != b)
    print(f"  results differing from the prefiltered run: {differing}")

    secrets = SecretDetector()
    _timed("secrets", lambda: secrets.detect_many(texts), args.n)


if __name__ == "__main__":
    main()
