"""Sentence encoders: the real sentence-transformers model, and a hashing encoder for fast unit tests."""
from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np


class Encoder:
    """Wraps a sentence-transformers model; vectors are L2-normalised float32."""

    def __init__(self, model: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - heavy import, only when used

        self.name = model_label(model)
        self.model = SentenceTransformer(model, device="cpu")
        self.dim = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], *, progress: bool = False, batch_size: int = 32) -> np.ndarray:
        """Embed texts into normalised vectors."""
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


def model_label(model: str) -> str:
    """A machine-independent name for a model: a hub id, or the last two parts of a local folder."""
    path = Path(model)
    return "/".join(path.parts[-2:]) if path.is_absolute() else model


class HashingEncoder:
    """Deterministic bag-of-words encoder for unit tests: no model, no download, still a real vector space."""

    name = "hashing"

    def __init__(self, dim: int = 256):
        self.dim = dim

    def encode(self, texts: list[str], *, progress: bool = False, batch_size: int = 32) -> np.ndarray:
        """Embed texts as normalised hashed word counts."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                bucket = int(hashlib.md5(word[:6].encode()).hexdigest(), 16) % self.dim
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


@lru_cache(maxsize=4)
def load_encoder(model: str) -> Encoder | HashingEncoder:
    """Load (once per process) the encoder named by settings; 'hashing' gives the test encoder."""
    if model == "hashing":
        return HashingEncoder()
    import torch  # noqa: PLC0415

    # Small queries gain nothing from many threads on a 2-core box, and contend with the web servers.
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    return Encoder(model)
