"""Sentence encoders: the real sentence-transformers model, and a hashing encoder for fast unit tests.

The real model may carry a small domain adapter (data/retrieval/adapter.npz): low-rank (LoRA) weight updates,
trained offline in a few CPU minutes from repository data only, that teach all-MiniLM-L6-v2 how school staff word
questions about policy clauses. It is merged into the weights at load time, so a query costs the same. The
encoder's name records the adapter, so an index built without it (or with another one) is re-embedded.

Rebuild the adapter (deterministic, from the repo's data) with:
    .venv/bin/python -m knowledge.encoder train
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import warnings
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

from knowledge.settings import DATA, get_settings, offline_hub

ADAPTER_PATH = DATA / "retrieval" / "adapter.npz"
RECENT_BATCH = 16  # calls with at most this many texts are questions: their vectors are remembered
RECENT_SIZE = 512
ONNX_EXPORT_VERSION = "2"  # bump when export_onnx() writes a different graph, so old exports are redone (2: tokens)
ONNX_MIN_COSINE = 0.9999  # an ONNX model is used only if it gives torch's vectors (so data fitted on them stays valid)
# int8 weights give other vectors (cosine 0.92-0.99 to torch's on the dev questions): the check only catches a broken
# file, and the encoder's name says int8, so an index is re-embedded and oos.yml would need a refit for it
INT8_MIN_COSINE = 0.9
_PROBES = ("Can I accept a friend request from a pupil?", "hi",
           "Staff members must not post photographs of pupils on personal social media accounts, unless the "
           "headteacher has given written permission and parents have consented in writing.")
log = logging.getLogger(__name__)


class Encoder:
    """Wraps a sentence-transformers model; vectors are L2-normalised float32."""

    def __init__(self, model: str, *, adapter: Path | None = ADAPTER_PATH, runtime: str | None = None):
        offline_hub()
        import torch  # noqa: PLC0415 - heavy import, only when used
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - heavy import, only when used

        torch.set_num_threads(get_settings().torch_threads)  # see Settings.torch_threads for the measurement

        self.name = model_label(model)
        self.model = SentenceTransformer(model, device="cpu")
        self.dim = int(self.model.get_embedding_dimension())
        self.adapter = None
        if adapter is not None and Path(adapter).exists():
            tag = apply_adapter(self.model, Path(adapter), self.name)
            if tag:
                self.adapter = tag
                self.name = f"{self.name}+{tag}"
        self.model.eval()
        self.runtime = "torch"
        self._onnx: OnnxModel | None = None
        wanted = runtime or get_settings().embed_runtime
        if wanted in ("onnx", "onnx-int8"):
            self._onnx = load_onnx(self.model, self.name, Path(get_settings().var_dir) / "models",
                                   int8=wanted == "onnx-int8")
            self.runtime = wanted if self._onnx is not None else "torch"
            if self.runtime == "onnx-int8":
                self.name = f"{self.name}+int8"
        # Recent short texts (questions, their parts) -> vector. One answer encodes the same question twice
        # (ranking, then highlights), which was ~40% of the action server's CPU per turn (py-spy, issue 16).
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_tokens: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.runs = 0  # batches the model has run (a benchmark counts them per question)

    def encode(self, texts: list[str], *, progress: bool = False, batch_size: int = 32) -> np.ndarray:
        """Embed texts into normalised vectors (a few recent questions are remembered; ingest batches are not)."""
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) > RECENT_BATCH:
            return self._encode(texts, progress, batch_size)
        found: dict[str, np.ndarray] = {}
        with self._recent_lock:
            for text in texts:
                if text in self._recent:
                    self._recent.move_to_end(text)
                    found[text] = self._recent[text]
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            tokens: dict = {}
            found.update(zip(missing, self._encode(missing, progress, batch_size, tokens)))
            with self._recent_lock:
                for text in missing:
                    self._recent[text] = found[text]
                while len(self._recent) > RECENT_SIZE:
                    self._recent.popitem(last=False)
                # the question's token embeddings came with its vector (ONNX): the token match needs no second run
                self._recent_tokens.update(tokens)
                while len(self._recent_tokens) > RECENT_SIZE:
                    self._recent_tokens.popitem(last=False)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    def token_vectors(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        """Each text's word pieces (no [CLS]/[SEP]) and their normalised contextual embeddings (the late-interaction
        match of search.SearchConfig.token_weight): a question just embedded by ONNX Runtime brought them along;
        others are run through ONNX Runtime, or the torch model without it."""
        if not len(texts):
            return []
        with self._recent_lock:
            raw = {t: self._recent_tokens[t] for t in texts if t in self._recent_tokens}
        missing = [t for t in dict.fromkeys(texts) if t not in raw]
        if missing:
            self.runs += -(-len(missing) // 32)
        if missing and self._onnx is not None:
            self._onnx.encode(missing, 32, raw)
            missing = [t for t in missing if t not in raw]
        if missing:
            out = self.model.encode(missing, output_value="token_embeddings", convert_to_numpy=False, batch_size=32)
            for text, vectors in zip(missing, out):
                ids = self.model.tokenizer(text, truncation=True, max_length=self.model.max_seq_length)["input_ids"]
                pieces = self.model.tokenizer.convert_ids_to_tokens(ids)[:len(vectors)]
                raw[text] = (pieces, vectors.detach().float().numpy()[:len(pieces)])
        special = set(self.model.tokenizer.all_special_tokens)
        found = []
        for text in texts:
            pieces, vectors = raw[text]
            keep = [i for i, piece in enumerate(pieces) if piece not in special]
            vectors = np.asarray(vectors, dtype=np.float32)[keep]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            found.append(([pieces[i] for i in keep], vectors / np.where(norms > 0, norms, 1.0)))
        return found

    def forget(self) -> None:
        """Drop the remembered question vectors (a benchmark times a question the encoder has not seen)."""
        with self._recent_lock:
            self._recent.clear()
            self._recent_tokens.clear()

    def _encode(self, texts: list[str], progress: bool, batch_size: int, tokens: dict | None = None) -> np.ndarray:
        self.runs += -(-len(texts) // batch_size)
        if self._onnx is not None:
            return self._onnx.encode(list(texts), batch_size, tokens)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class OnnxModel:
    """A sentence-transformers model exported to ONNX (export_onnx) and run by ONNX Runtime on the CPU.

    Tokenised by the loaded model's own tokenizer, so its vectors are torch's up to float rounding.
    """

    def __init__(self, st_model, path: Path, threads: int):
        import onnxruntime  # noqa: PLC0415 - optional, only with POLICY_COACH_EMBED_RUNTIME=onnx

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # same reason as Settings.torch_threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = st_model.tokenizer
        self.max_length = int(st_model.max_seq_length)

    def encode(self, texts: list[str], batch_size: int = 32, tokens: dict | None = None) -> np.ndarray:
        """Embed texts into normalised vectors, longest first in each batch (less padding, as sentence-transformers);
        with `tokens`, also fill it with each text's (word pieces, token embeddings) from the same run."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            features = self.tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                      max_length=self.max_length, return_tensors="np")
            feed = {k: np.asarray(v, dtype=np.int64) for k, v in features.items() if k in self.inputs}
            if "token_type_ids" in self.inputs and "token_type_ids" not in feed:
                feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
            outputs = self.session.run(None, feed)
            vectors = outputs[0]
            if not out.shape[1]:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
            if tokens is not None and len(outputs) > 1:
                for j, i in enumerate(rows):
                    keep = np.flatnonzero(feed["attention_mask"][j])
                    pieces = self.tokenizer.convert_ids_to_tokens(feed["input_ids"][j][keep].tolist())
                    tokens[texts[i]] = (pieces, np.asarray(outputs[1][j][keep], dtype=np.float32))
        return out


def onnx_path(name: str, folder: Path) -> Path:
    """Where the ONNX export of the encoder called `name` lives (one file per model and adapter)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")
    return Path(folder) / f"{slug}.v{ONNX_EXPORT_VERSION}.onnx"


def export_onnx(st_model, path: Path) -> Path:
    """Export a loaded sentence-transformers model (transformer, mean pooling, normalisation) to an ONNX file."""
    import torch  # noqa: PLC0415
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling  # noqa: PLC0415

    modules = list(st_model)
    pooling = modules[1] if len(modules) > 1 else None
    if (len(modules) != 3 or not isinstance(pooling, Pooling) or pooling.pooling_mode != "mean"
            or not isinstance(modules[2], Normalize)):
        raise ValueError("only a transformer with mean pooling and normalisation can be exported")
    transformer = modules[0].auto_model

    class Embed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            # the token embeddings too, for the token match (search.SearchConfig.token_weight) from the same run
            return torch.nn.functional.normalize(pooled, p=2, dim=1), hidden

    sample = st_model.tokenizer(list(_PROBES[:2]), padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = tuple(sample.get(n, torch.zeros_like(sample["input_ids"])) for n in names)
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # inside the runtime dir, private like the rest
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes about the legacy exporter and constant shapes
        # the TorchScript exporter: its dynamic axes carry a batch of any size and length (checked by load_onnx)
        torch.onnx.export(Embed().eval(), args, str(tmp), input_names=names, output_names=["embedding", "tokens"],
                          dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"},
                                        "tokens": {0: "batch", 1: "tokens"}},
                          opset_version=17, dynamo=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def quantize_onnx(source: Path, path: Path) -> Path:
    """Dynamic int8 quantisation of an exported model's weights (ONNX Runtime's quantize_dynamic)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415 - optional

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def load_onnx(st_model, name: str, folder: Path, *, int8: bool = False) -> OnnxModel | None:
    """ONNX Runtime for a loaded model: its export under `folder` (made now if missing or not giving torch's
    vectors; with int8, quantised from it), or None (torch is used) when onnxruntime or the export is unavailable."""
    threads = get_settings().torch_threads
    expected = np.asarray(st_model.encode(list(_PROBES), convert_to_numpy=True, normalize_embeddings=True,
                                          show_progress_bar=False))
    path = onnx_path(name, folder)
    final = path.with_name(path.name.replace(".onnx", ".int8.onnx")) if int8 else path
    for attempt in range(2):
        try:
            if attempt or not path.exists():
                export_onnx(st_model, path)
            if int8 and (attempt or not final.exists()):
                quantize_onnx(path, final)
            runner = OnnxModel(st_model, final, threads)
            got = runner.encode(list(_PROBES))
        except Exception as exc:  # noqa: BLE001 - any failure here means "use torch", said once in the log
            log.warning("ONNX Runtime not used, embedding with torch: %s", exc)
            return None
        cosine = float(np.min(np.sum(got * expected, axis=1)))
        if cosine >= (INT8_MIN_COSINE if int8 else ONNX_MIN_COSINE):
            return runner
        log.warning("ONNX export %s gives other vectors than torch (cosine %.6f)%s", final, cosine,
                    "; exporting again" if not attempt else "; embedding with torch")
    return None


def model_label(model: str) -> str:
    """A machine-independent name for a model: a hub id, or the last two parts of a local folder."""
    path = Path(model)
    return "/".join(path.parts[-2:]) if path.is_absolute() else model


def expected_name(model: str, adapter: Path | None = ADAPTER_PATH) -> str:
    """The name an Encoder for `model` will have, without loading it (so an unchanged index can be kept)."""
    if model == "hashing":
        return "hashing"
    label = model_label(model)
    if adapter is not None and Path(adapter).exists():
        with np.load(adapter, allow_pickle=False) as data:
            if str(data["base"]) == label:
                return f"{label}+ft-" + hashlib.sha256(Path(adapter).read_bytes()).hexdigest()[:8]
    return label


def apply_adapter(model, path: Path, label: str) -> str | None:
    """Merge a LoRA adapter file into a loaded model's linear layers; return its tag, or None if it doesn't fit."""
    import torch  # noqa: PLC0415

    data = np.load(path, allow_pickle=False)
    if str(data["base"]) != label:
        return None
    modules = dict(model.named_modules())
    names = [str(n) for n in data["names"]]
    scale = float(data["scale"])
    with torch.no_grad():
        for i, name in enumerate(names):
            layer = modules.get(name)
            a, b = data[f"a{i}"].astype(np.float32), data[f"b{i}"].astype(np.float32)
            if layer is None or tuple(layer.weight.shape) != (b.shape[0], a.shape[1]):
                raise ValueError(f"{path}: adapter does not fit model layer {name}; retrain it")
            layer.weight += torch.from_numpy(b @ a * scale)
    return "ft-" + hashlib.sha256(path.read_bytes()).hexdigest()[:8]


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


# -- training the adapter -------------------------------------------------------------------------------------
def training_pairs(data: Path = DATA, *, generic: bool = False) -> list[tuple[str, str, str]]:
    """(staff question, clause text, clause key) pairs from repository data only.

    Sources: dev-only example questions for a dev policy (data/retrieval/adapter-training/), the scenario
    prompts of its quiz (data/quizzes/<policy-id>.yml, first cited clause), the generic front-matter questions
    (data/retrieval/details.yml), and with `generic` made-up policy clauses with staff questions
    (data/retrieval/generic-pairs.yml; never indexed; off by default: measured no better overall, see that file).
    Evaluation sets are never read.
    """
    import yaml  # noqa: PLC0415

    from knowledge.index import clause_body, clause_head, detail_questions, example_questions  # noqa: PLC0415
    from knowledge.parser import parse_file, policy_id_for  # noqa: PLC0415

    pairs: list[tuple[str, str, str]] = []
    for path in sorted((data / "policies").iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        policy = parse_file(path)
        text = {i: f"{clause_head(c)}: {clause_body(c)}" for i, c in enumerate(policy.clauses)}
        key = {i: f"{policy.policy}:{c.clause}" for i, c in enumerate(policy.clauses)}
        for question, row in example_questions(policy):
            pairs.append((question, text[row], key[row]))
        for row, clause in enumerate(policy.clauses):
            for question in detail_questions(clause):
                pairs.append((question, text[row], key[row]))
        quiz = data / "quizzes" / f"{policy_id_for(path)}.yml"
        if quiz.exists():
            for scenario in (yaml.safe_load(quiz.read_text()) or {}).get("scenarios") or []:
                cited = [str(c) for c in scenario.get("clauses") or []]
                prompt = " ".join(str(scenario.get("prompt") or "").split())
                if not cited or not prompt:
                    continue
                first = cited[0]
                if first.startswith("text:"):
                    rows = [i for i, c in enumerate(policy.clauses) if first[5:].strip().lower() in c.text.lower()]
                else:
                    rows = [i for i, c in enumerate(policy.clauses) if c.clause == first]
                if rows:
                    pairs.append((prompt, text[rows[0]], key[rows[0]]))
    extra = data / "retrieval" / "generic-pairs.yml"
    if generic and extra.exists():
        for p_no, entry in enumerate((yaml.safe_load(extra.read_text()) or {}).get("policies") or []):
            for c_no, clause in enumerate(entry.get("clauses") or []):
                body = f"{clause.get('head') or entry.get('title') or ''}: {' '.join(str(clause.get('text') or '').split())}"
                for question in clause.get("questions") or []:
                    if str(question).strip():
                        pairs.append((str(question).strip(), body, f"generic:{p_no}:{c_no}"))
    return pairs


def train_adapter(model: str, out: Path = ADAPTER_PATH, *, rank: int = 8, epochs: int = 4, lr: float = 5e-4,
                  batch: int = 32, seed: int = 0, scale: float = 2.0, generic: bool = False, log=print) -> Path:
    """Train the LoRA adapter on `training_pairs()` with in-batch negatives; write it to `out`."""
    import random  # noqa: PLC0415

    import torch  # noqa: PLC0415
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    offline_hub()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    pairs = training_pairs(generic=generic)
    log(f"{len(pairs)} training pairs")
    st = SentenceTransformer(model, device="cpu")

    class LoRA(torch.nn.Module):
        def __init__(self, base):
            super().__init__()
            self.base = base
            self.a = torch.nn.Parameter(torch.randn(rank, base.in_features) * 0.01)
            self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))

        def forward(self, x):
            return self.base(x) + (x @ self.a.T @ self.b.T) * scale

    for p in st.parameters():
        p.requires_grad = False
    names = [n for n, m in st.named_modules() if isinstance(m, torch.nn.Linear)]
    wrapped = {}
    for name in names:
        parent, attr = name.rsplit(".", 1)
        layer = LoRA(getattr(st.get_submodule(parent), attr))
        setattr(st.get_submodule(parent), attr, layer)
        wrapped[name] = layer
    params = [p for layer in wrapped.values() for p in (layer.a, layer.b)]
    opt = torch.optim.AdamW(params, lr=lr)

    def embed(texts):
        features = st.preprocess(texts) if hasattr(st, "preprocess") else st.tokenize(texts)
        return torch.nn.functional.normalize(st(features)["sentence_embedding"], dim=-1)

    st.train()
    for epoch in range(epochs):
        random.shuffle(pairs)
        pool, batches = list(pairs), []
        while pool:  # batches of distinct clauses and questions, so in-batch negatives are true negatives
            seen, chosen, rest = set(), [], []
            for pair in pool:
                if len(chosen) < batch and pair[2] not in seen and pair[0] not in seen:
                    chosen.append(pair)
                    seen.update((pair[2], pair[0]))
                else:
                    rest.append(pair)
            batches.append(chosen)
            pool = rest
        total = 0.0
        for chosen in batches:
            q = embed([p[0] for p in chosen])
            d = embed([p[1] for p in chosen])
            sims = q @ d.T * 20.0
            labels = torch.arange(len(chosen))
            loss = (torch.nn.functional.cross_entropy(sims, labels)
                    + torch.nn.functional.cross_entropy(sims.T, labels)) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        log(f"epoch {epoch + 1}/{epochs}: loss {total / max(len(batches), 1):.3f}")
    arrays = {"base": np.array(model_label(model)), "names": np.array(names), "scale": np.array(scale)}
    for i, name in enumerate(names):
        arrays[f"a{i}"] = wrapped[name].a.detach().numpy().astype(np.float16)
        arrays[f"b{i}"] = wrapped[name].b.detach().numpy().astype(np.float16)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out)
    log(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m knowledge.encoder train [--out PATH] [--epochs N]`: rebuild the domain adapter."""
    import argparse  # noqa: PLC0415

    from knowledge.settings import get_settings  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m knowledge.encoder")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the LoRA domain adapter from repository data")
    p.add_argument("--out", default=str(ADAPTER_PATH))
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--with-generic", action="store_true",
                   help="also train on data/retrieval/generic-pairs.yml (experimental; not used for adapter.npz)")
    args = parser.parse_args(argv)
    train_adapter(get_settings().model, Path(args.out), rank=args.rank, epochs=args.epochs, lr=args.lr,
                  generic=args.with_generic)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
