"""Text similarity shared by the near-duplicate, conflicting-outputs and test-leakage checks.

Normalises and tokenises text, hashes words, word shingles and word n-grams, computes MinHash
signatures, finds LSH candidate pairs, verifies and clusters them: all vectorised over many
texts at once, so a million examples take seconds, not minutes (see bench/bench_similarity.py).

Typical use, one batch of texts at a time::

    words = TokenHasher().hash_texts(texts)               # tokenise once ...
    signatures = MinHasher().signature_rows(shingle_rows(words, k=5))
    grams = ngram_rows(words, n=13)                        # ... feed MinHash and n-grams
    pairs = lsh_candidate_pairs(signatures, *lsh_params(0.8))
    pairs, similarity = verify_pairs(signatures, pairs, 0.8)
    labels = clusters(len(texts), pairs)
"""

from tunelint.similarity.hashing import Ragged
from tunelint.similarity.lsh import clusters, lsh_candidate_pairs, lsh_params, verify_pairs
from tunelint.similarity.minhash import (
    EMPTY_SIGNATURE_VALUE,
    MinHasher,
    datasketch_signature,
    estimated_jaccard,
    estimated_jaccard_pairs,
    exact_jaccard,
    exact_jaccard_pairs,
    is_empty_signature,
    ngram_hashes,
    ngram_rows,
    shingle_rows,
    shingles,
)
from tunelint.similarity.text import TokenHasher, normalise, tokenize

__all__ = [
    "EMPTY_SIGNATURE_VALUE",
    "MinHasher",
    "Ragged",
    "TokenHasher",
    "clusters",
    "datasketch_signature",
    "estimated_jaccard",
    "estimated_jaccard_pairs",
    "exact_jaccard",
    "exact_jaccard_pairs",
    "is_empty_signature",
    "lsh_candidate_pairs",
    "lsh_params",
    "ngram_hashes",
    "ngram_rows",
    "normalise",
    "shingle_rows",
    "shingles",
    "tokenize",
    "verify_pairs",
]
