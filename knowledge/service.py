"""Load the searcher the app uses, once per process, from settings."""
from __future__ import annotations

import threading
from pathlib import Path

from knowledge.encoder import load_encoder
from knowledge.index import IndexError_, load
from knowledge.search import Lexicon, Searcher
from knowledge.settings import Settings, get_settings

_lock = threading.Lock()
_cache: dict[tuple, tuple[float, Searcher]] = {}


def _stamp(index_dir: Path) -> float:
    manifest = Path(index_dir) / "manifest.json"
    return manifest.stat().st_mtime if manifest.exists() else 0.0


def get_searcher(settings: Settings | None = None, *, index_dir: Path | None = None) -> Searcher:
    """Return a Searcher over the current index, reloading it when the index on disk changes."""
    settings = settings or get_settings()
    index_dir = Path(index_dir or settings.index_dir)
    key = (str(index_dir), settings.model, str(settings.lexicon_path))
    stamp = _stamp(index_dir)
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        index = load(index_dir)
        encoder = load_encoder(settings.model)
        if encoder.name != index.model:
            raise IndexError_(
                f"The index was built with model '{index.model}' but settings ask for '{settings.model}'; "
                "rebuild it with policy-coach ingest"
            )
        searcher = Searcher(index, encoder, lexicon=Lexicon.load(settings.lexicon_path),
                            max_chars=settings.max_question_chars)
        _cache[key] = (stamp, searcher)
        return searcher
