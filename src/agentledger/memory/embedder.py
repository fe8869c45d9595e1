"""The embedder interface, and a deterministic local one that needs no model or network."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from agentledger.memory.records import EMBEDDING_DIMENSIONS

_WORD = re.compile(r"\w+")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors (one per text: lists of floats, or numpy arrays).

    Its vectors must have the dimension of the space they go to
    (``Memory.with_embedder(embedder, space=...)``; the tenant's default space, 384 numbers
    for the built-in one, when none is named): a vector of another dimension is refused,
    naming the space's. The built-in embedders say theirs in ``dimensions``, which
    ``Memory.declare_space`` takes. Called in a worker thread by the async face, so a
    blocking local model is fine.
    """

    def embed(self, texts: Sequence[str]) -> Sequence[Any]: ...


class HashingEmbedder:
    """Feature hashing of words and character trigrams into a unit vector.

    Deterministic and dependency-free: texts sharing words land near each other. Good for
    tests, demos and as a baseline; use a real model for semantic similarity.
    """

    def __init__(self, dimensions: int = EMBEDDING_DIMENSIONS) -> None:
        self.dimensions = dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vec = [0.0] * self.dimensions
        for word in _WORD.findall(text.casefold()):
            padded = f" {word} "
            features = [word] + [padded[i : i + 3] for i in range(len(padded) - 2)]
            for feature in features:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "little") % self.dimensions
                vec[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vec))
        if norm == 0:
            vec[0] = 1.0
            return vec
        return [x / norm for x in vec]
