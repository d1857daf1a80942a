"""Duplicate and near-duplicate texts in linear time: sequence hashes, one-word deletion keys and MinHash LSH.

A text is a sequence of word hashes (normalised words: see studio.core.text_scan). Three kinds of links join
texts, none of them by comparing every text with every other:

- the same words in the same order: one hash per text (two independent polynomial hashes, so a collision of
  one is caught by the other);
- one word changed, added or removed (texts of MIN_NEAR_WORDS to MAX_DELETION_WORDS words): every text also
  gets a key for itself with each one word left out, and two texts that share a key are the same text once one
  word is removed from each (the "deletion neighbourhood" of spelling correctors such as SymSpell);
- a few words changed in a longer text (MIN_MINHASH_WORDS words or more): MinHash of the word bigrams with
  locality-sensitive hashing in bands, each candidate pair then checked by the Jaccard similarity of its
  bigram sets (at least MIN_JACCARD).

Equal keys are found by sorting 64-bit integers (the key's high bits with the entry's position in the low
bits), which numpy does in a fraction of a second for millions of keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

# One word of fewer than ten is often the whole point ("What is the capital of France ?" / "... of Spain ?"):
# texts this short are duplicates only when their normalised words are all the same. From ten words on, one word
# in ten may differ, which is also about what MIN_JACCARD lets MinHash accept in longer texts.
MIN_NEAR_WORDS = 10
# Beyond this a text gets no deletion keys (a key per word would cost too much); MinHash covers it.
MAX_DELETION_WORDS = 80
# MinHash covers texts from this length: one changed word leaves at least MIN_JACCARD of their bigrams shared.
MIN_MINHASH_WORDS = 16
MIN_JACCARD = 0.7
# 10 bands of 4 hashes: a pair at Jaccard 0.7 becomes a candidate with probability 0.94, at 0.8 0.995,
# at 0.9 0.99999; a pair at 0.3 with 0.08 (then refused by the check), at 0.1 with 0.001.
BANDS = 10
BAND_ROWS = 4
# A pathological file (thousands of templated texts) could make this many candidate pairs; the rest are dropped.
MAX_CANDIDATES = 200_000

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
# Odd multipliers for the two polynomial hashes, the length salt and the bigram hash (fixed: results repeat).
_BASES = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F)
_LENGTH_SALT = (0x165667B19E3779F9, 0x27D4EB2F165667C5)
_BIGRAM = 0xD6E8FEB86659FD93


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: spreads the bits of each uint64 (word hashes from Python's hash() are not random)."""
    x = np.array(values, dtype=_U64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> _U64(30)
        x *= _U64(0xBF58476D1CE4E5B9)
        x ^= x >> _U64(27)
        x *= _U64(0x94D049BB133111EB)
        x ^= x >> _U64(31)
    return x


@dataclass(frozen=True)
class Texts:
    """Texts as normalised word hashes: text i is words[offsets[i]:offsets[i + 1]] (uint64, already mixed)."""

    words: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


class _Polynomial:
    """Hashes of any run of words of the flat array, and of a run with one word left out, in O(1) each."""

    def __init__(self, words: np.ndarray, family: int):
        base = _BASES[family]
        n = len(words)
        with np.errstate(over="ignore"):
            powers = np.full(n + 1, base, dtype=_U64)
            powers[0] = 1
            np.cumprod(powers, out=powers)
            inverse = np.full(n + 1, pow(base, -1, 1 << 64), dtype=_U64)
            inverse[0] = 1
            np.cumprod(inverse, out=inverse)
            prefix = np.zeros(n + 1, dtype=_U64)
            np.cumsum(words * powers[:n], out=prefix[1:])
        self.inverse, self.prefix, self.salt = inverse, prefix, _U64(_LENGTH_SALT[family])

    # The words are mixed hashes and the base is odd, so the high bits of a key (those equal_key_pairs sorts by)
    # are as good as random without mixing the key again.
    def run(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Key of words[start:end] (the same for the same words anywhere in the array)."""
        with np.errstate(over="ignore"):
            value = (self.prefix[end] - self.prefix[start]) * self.inverse[start]
            return value + (end - start).astype(_U64) * self.salt

    def without(self, start: np.ndarray, end: np.ndarray, left_out: np.ndarray) -> np.ndarray:
        """Key of words[start:end] with the word at `left_out` removed: equal to run() of that shorter sequence."""
        with np.errstate(over="ignore"):
            before = (self.prefix[left_out] - self.prefix[start]) * self.inverse[start]
            after = (self.prefix[end] - self.prefix[left_out + 1]) * self.inverse[start + 1]
            return before + after + (end - start - 1).astype(_U64) * self.salt


def equal_key_pairs(
    key: np.ndarray, owner: np.ndarray, check: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(first, other) owners of entries with equal keys: each entry paired with the first of its run.

    `check(entries)` gives a second, independent hash of those entries: they pair only when it is equal too, so a
    collision of the (shortened) sort key never joins two different texts. It is asked only about the entries
    that share a sort key (few), not about all of them.
    """
    n = len(key)
    if n < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    bits = max(1, (n - 1).bit_length())
    low = _U64((1 << bits) - 1)
    packed = (key & ~low) | np.arange(n, dtype=_U64)
    packed.sort()
    position = (packed & low).astype(np.int64)
    high = packed >> _U64(bits)
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(high[1:], high[:-1], out=starts[1:])
    first = position[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    others = np.flatnonzero(~starts)
    a, b = first[others], position[others]
    keep = owner[a] != owner[b]
    a, b = a[keep], b[keep]
    if check is not None and len(a):
        asked = np.unique(np.concatenate([a, b]))
        values = np.zeros(n, dtype=_U64)
        values[asked] = check(asked)
        keep = values[a] == values[b]
        a, b = a[keep], b[keep]
    return owner[a], owner[b]


def components(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each of `count` items' component, given links a[i] -- b[i]: the smallest item of the component.

    Hooking and pointer jumping on numpy arrays (a few rounds, each linear), so no graph library is imported.
    """
    labels = np.arange(count, dtype=np.int64)
    if len(a) == 0:
        return labels
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    while True:
        low = np.minimum(labels[a], labels[b])
        # Each root takes the smallest label it is linked to (minimum.at: no update is lost to another).
        np.minimum.at(labels, labels[a], low)
        np.minimum.at(labels, labels[b], low)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels[a], labels[b]):
            return labels


@dataclass(frozen=True)
class Links:
    """How texts are joined: `same` (the same normalised words) and `near` (nearly the same), as index pairs;
    `same_group` and `group` number each text's group of texts with the same words and of texts joined by either."""

    same: tuple[np.ndarray, np.ndarray]
    near: tuple[np.ndarray, np.ndarray]
    same_group: np.ndarray
    group: np.ndarray


def find_links(texts: Texts, near: bool = True, minhash: bool = True, seed: int = 1) -> Links:
    """Pairs of texts with the same words, and pairs of texts nearly the same (see the module's docstring).

    Without `near`, only texts with the same words are joined (sentence pairs: one word of a hypothesis is what
    tells "a man is inside" from "a woman is inside", two examples with different labels).
    """
    count = len(texts)
    starts, ends = texts.offsets[:-1], texts.offsets[1:]
    lengths = ends - starts
    first = _Polynomial(texts.words, 0)
    second = _Polynomial(texts.words, 1)
    worded = np.flatnonzero(lengths > 0)
    whole = first.run(starts[worded], ends[worded])
    same = equal_key_pairs(whole, worded, lambda i: second.run(starts[worded[i]], ends[worded[i]]))

    # One text of each group of identical ones is enough from here on.
    group = components(count, *same)
    representative = np.zeros(count, dtype=bool)
    representative[worded] = True
    if len(same[0]):
        _, first_of_group = np.unique(group, return_index=True)
        representative[:] = False
        representative[first_of_group[lengths[first_of_group] > 0]] = True
    if not near:
        empty = np.empty(0, dtype=np.int64)
        return Links(same, (empty, empty), group, group)
    near_a, near_b = _deletion_pairs(texts, first, second, representative)
    found = components(count, np.concatenate([same[0], near_a]), np.concatenate([same[1], near_b]))
    if minhash:
        ma, mb = _minhash_pairs(texts, representative, found, seed)
        if len(ma):
            near_a, near_b = np.concatenate([near_a, ma]), np.concatenate([near_b, mb])
            found = components(count, np.concatenate([same[0], near_a]), np.concatenate([same[1], near_b]))
    return Links(same, (near_a, near_b), group, found)


def _deletion_pairs(
    texts: Texts, first: _Polynomial, second: _Polynomial, chosen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Texts that are the same once one word is removed from each (or from one of them)."""
    starts, ends = texts.offsets[:-1], texts.offsets[1:]
    lengths = ends - starts
    whole = np.flatnonzero(chosen & (lengths >= MIN_NEAR_WORDS))
    short = whole[lengths[whole] <= MAX_DELETION_WORDS]
    if len(whole) + len(short) < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    # Every word position of the chosen texts, with the text it belongs to.
    owner = np.repeat(short, lengths[short])
    position = np.arange(len(owner)) - np.repeat(np.cumsum(lengths[short]) - lengths[short], lengths[short])
    position += starts[owner]
    key = np.concatenate([first.run(starts[whole], ends[whole]), first.without(starts[owner], ends[owner], position)])
    owners = np.concatenate([whole, owner])
    dropped = np.concatenate([np.full(len(whole), -1), position])  # the word left out; -1: none

    def check(entries: np.ndarray) -> np.ndarray:
        text, left_out = owners[entries], dropped[entries]
        values = second.run(starts[text], ends[text])
        cut = left_out >= 0
        values[cut] = second.without(starts[text[cut]], ends[text[cut]], left_out[cut])
        return values

    return equal_key_pairs(key, owners, check)


def _minhash_pairs(texts: Texts, chosen: np.ndarray, found: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Longer texts whose word bigrams overlap by MIN_JACCARD or more, found by MinHash LSH and then checked."""
    starts, ends = texts.offsets[:-1], texts.offsets[1:]
    lengths = ends - starts
    # One text per group found so far: its members are already joined.
    _, leaders = np.unique(found, return_index=True)
    sketched = leaders[chosen[leaders] & (lengths[leaders] >= MIN_MINHASH_WORDS)]
    empty = np.empty(0, dtype=np.int64)
    if len(sketched) < 2:
        return empty, empty
    bigram_counts = lengths[sketched] - 1
    owner = np.repeat(sketched, bigram_counts)
    offsets = np.zeros(len(sketched) + 1, dtype=np.int64)
    np.cumsum(bigram_counts, out=offsets[1:])
    position = np.arange(len(owner)) - np.repeat(offsets[:-1], bigram_counts) + starts[owner]
    with np.errstate(over="ignore"):
        bigrams = mix64(texts.words[position] * _U64(_BIGRAM) + texts.words[position + 1])
    rng = np.random.default_rng(seed)
    perms = BANDS * BAND_ROWS
    multipliers = rng.integers(1, 1 << 63, perms, dtype=np.uint64) | _U64(1)
    adders = rng.integers(0, 1 << 63, perms, dtype=np.uint64)
    signature = np.empty((len(sketched), perms), dtype=_U64)
    with np.errstate(over="ignore"):
        for k in range(perms):
            signature[:, k] = np.minimum.reduceat((bigrams * multipliers[k] + adders[k]) >> _U64(32), offsets[:-1])
    pairs_a, pairs_b = [], []
    for band in range(BANDS):
        cols = signature[:, band * BAND_ROWS : (band + 1) * BAND_ROWS]
        with np.errstate(over="ignore"):
            key = mix64((cols[:, 0] << _U64(32)) | cols[:, 1]) ^ mix64(
                ((cols[:, 2] << _U64(32)) | cols[:, 3]) + _U64(band)
            )
        a, b = equal_key_pairs(key, np.arange(len(sketched)))
        pairs_a.append(a)
        pairs_b.append(b)
    a, b = np.concatenate(pairs_a), np.concatenate(pairs_b)
    if not len(a):
        return empty, empty
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    unique = np.unique(lo * len(sketched) + hi)
    lo, hi = unique // len(sketched), unique % len(sketched)
    if len(lo) > MAX_CANDIDATES:
        log.info("MinHash found %d candidate pairs; checking the first %d", len(lo), MAX_CANDIDATES)
        lo, hi = lo[:MAX_CANDIDATES], hi[:MAX_CANDIDATES]
    kept_a, kept_b = [], []
    sets: dict[int, set[int]] = {}

    def bigram_set(i: int) -> set[int]:
        if i not in sets:
            sets[i] = set(bigrams[offsets[i] : offsets[i + 1]].tolist())
        return sets[i]

    for i, j in zip(lo.tolist(), hi.tolist(), strict=True):
        x, y = bigram_set(i), bigram_set(j)
        shared = len(x & y)
        if shared >= MIN_JACCARD * (len(x) + len(y) - shared):
            kept_a.append(sketched[i])
            kept_b.append(sketched[j])
    return np.asarray(kept_a, dtype=np.int64), np.asarray(kept_b, dtype=np.int64)
