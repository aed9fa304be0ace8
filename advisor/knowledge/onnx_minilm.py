"""MiniLM on ONNX Runtime: exported once from the packaged model, served without PyTorch.

The export runs ``torch.onnx.export`` (the TorchScript exporter) on the Hugging Face
transformer inside the sentence-transformers folder, once per model digest, into
``<models dir>/onnx/``. Serving loads only ``onnxruntime`` and ``tokenizers`` and applies the
sentence-transformers pipeline of all-MiniLM-L6-v2 by hand: truncation at the folder's
``max_seq_length``, mean pooling over the attention mask, L2 normalisation. The fp32 export
matches the PyTorch embedder to about 1e-7 per coordinate (``tests/advisor/knowledge/
test_onnx.py``), so both share one name, index and caches; the int8 variant
(``onnxruntime.quantization.quantize_dynamic``) has a name of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from advisor.errors import EmbeddingError
from advisor.knowledge.batching import BatchingEmbedder, hub_offline

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export changes, so old files are not read
OPSET = 17
_DIGESTED = ("config.json", "tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CHUNK = 32  # texts per forward pass of a long list: sentence-transformers' default batch


@lru_cache(maxsize=8)
def _digest(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for name, _, _ in stamp:
        h.update(name.encode())
        with open(Path(folder) / name, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def model_digest(model_path: Path) -> str:
    """SHA-256 (hex) of a sentence-transformers folder's weights, tokenizer and configs.

    Cached per process by file sizes and times, so only the first call reads the 90 MB.
    """
    names = [n for n in (*_DIGESTED, *_WEIGHTS) if (model_path / n).is_file()]
    if not any(n in names for n in _WEIGHTS):
        raise EmbeddingError(f"cannot load embedding model {model_path}: no weights found")
    try:
        stats = [(n, (model_path / n).stat()) for n in names]
        return _digest(str(model_path), tuple((n, st.st_size, st.st_mtime_ns) for n, st in stats))
    except OSError as exc:
        raise EmbeddingError(f"cannot load embedding model {model_path}: {exc}") from exc


def onnx_file(models_dir: Path, model_path: Path, quantized: bool = False) -> Path:
    """Where the export of ``model_path`` lives: named by its digest and the export version."""
    tail = "-int8" if quantized else ""
    digest = model_digest(model_path)[:16]
    return models_dir / "onnx" / f"minilm-{digest}-v{EXPORT_VERSION}{tail}.onnx"


_MODULES = ["Transformer", "Pooling", "Normalize"]  # what _run does by hand, in this order


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbeddingError(
            f"cannot load embedding model {path.parent}: not a sentence-transformers folder ({exc})"
        ) from exc


def _pipeline_config(model_path: Path) -> int:
    """The folder's max_seq_length, after checking that its pipeline is the one ``_run``
    does by hand: Transformer, mean Pooling, optionally Normalize; no lower-casing of its
    own and no prompt. Raises EmbeddingError for any other, pointing at the torch backend.
    """
    modules = [
        str(m.get("type", "")).rsplit(".", 1)[-1] for m in _read_json(model_path / "modules.json")
    ]
    pooling = _read_json(model_path / "1_Pooling" / "config.json")
    bert = _read_json(model_path / "sentence_bert_config.json")
    extra = model_path / "config_sentence_transformers.json"
    prompts = _read_json(extra) if extra.is_file() else {}
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
    unlike = [
        f"modules {modules}" if modules not in (_MODULES, _MODULES[:2]) else "",
        f"pooling {sorted(modes)}" if modes != {"pooling_mode_mean_tokens"} else "",
        "do_lower_case" if bert.get("do_lower_case") else "",
        "prompts" if prompts.get("prompts") or prompts.get("default_prompt_name") else "",
        "no max_seq_length" if not isinstance(bert.get("max_seq_length"), int) else "",
    ]
    if any(unlike):
        raise EmbeddingError(
            f"{model_path}: only mean pooling of a plain transformer runs on ONNX here "
            f"({', '.join(u for u in unlike if u)}); use ADVISOR_EMBEDDER=torch"
        )
    return int(bert["max_seq_length"])


def _temp(dest: Path) -> Path:
    # Process and thread in the name: two exporters never write the same temporary file.
    return dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def export_onnx(model_path: Path, dest: Path) -> Path:
    """Export the transformer of ``model_path`` to ONNX at ``dest`` (fp32; needs torch, onnx).

    Raises EmbeddingError when torch or onnx is missing or the export fails.
    """
    hub_offline()
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise EmbeddingError(f"exporting MiniLM to ONNX needs torch and transformers: {exc}") from (
            exc
        )

    class _Hidden(torch.nn.Module):
        # transformers 5 takes these by keyword only; the exporter passes positionally
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    tmp = _temp(dest)
    started = time.perf_counter()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        model = _Hidden(AutoModel.from_pretrained(str(model_path)).eval())
        sample = torch.ones(1, 8, dtype=torch.long)
        axes = {n: {0: "batch", 1: "tokens"} for n in (*_INPUTS, "last_hidden_state")}
        # The tracer warns about Python branches on shapes; the vector test covers them.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (sample, sample, torch.zeros_like(sample)), str(tmp),
                input_names=list(_INPUTS), output_names=["last_hidden_state"],
                dynamic_axes=axes, opset_version=OPSET, dynamo=False,
            )  # fmt: skip
        os.replace(tmp, dest)  # concurrent exporters each write their own file; one wins
    except Exception as exc:  # torch raises many kinds; all mean "no export"
        raise EmbeddingError(f"could not export {model_path} to ONNX: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    log.info("exported %s to %s in %.1f s", model_path, dest, time.perf_counter() - started)
    return dest


def quantize_onnx(source: Path, dest: Path) -> Path:
    """Write a dynamically int8-quantised copy of an fp32 export (weights int8, MatMuls int8)."""
    tmp = _temp(dest)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
        os.replace(tmp, dest)
    except Exception as exc:
        raise EmbeddingError(f"could not quantise {source}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def ensure_onnx(models_dir: Path, model_path: Path, quantized: bool = False) -> Path:
    """The export for ``model_path``, made first if missing (about 10 s, once per model).

    Raises EmbeddingError for a folder this module cannot serve, before any export.
    """
    _pipeline_config(model_path)
    path = onnx_file(models_dir, model_path, quantized)
    if path.is_file():
        return path
    # One exporter at a time: server workers that start together wait for the first one's
    # file instead of each importing torch and exporting the same model.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.parent / ".export.lock", "a+b")  # noqa: SIM115 (held below)
    except OSError as exc:
        raise EmbeddingError(f"cannot write the ONNX export under {path.parent}: {exc}") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fp32 = onnx_file(models_dir, model_path)
        if not fp32.is_file():
            log.warning("exporting the embedding model to ONNX once (%s)", fp32)
            export_onnx(model_path, fp32)
        if quantized and not path.is_file():
            quantize_onnx(fp32, path)
    return path


class UnreadableExport(EmbeddingError):
    """The export file on disk cannot be loaded by ONNX Runtime (cut short, damaged)."""


def load_onnx(
    models_dir: Path, model_path: Path, name: str, quantized: bool, max_batch: int, threads: int
) -> OnnxEmbedder:
    """The embedder on the export of ``model_path``, exporting it first when missing, and
    once more when ONNX Runtime cannot load the file on disk (a copy cut short, a disk
    error). Raises EmbeddingError when the model cannot be exported or loaded.
    """
    exported = ensure_onnx(models_dir, model_path, quantized)
    try:
        return OnnxEmbedder(exported, model_path, name, max_batch, threads)
    except UnreadableExport as exc:
        log.warning("exporting again: %s", exc)
        exported.unlink(missing_ok=True)
        if quantized:  # the int8 file is made from the fp32 one, which may be the bad one
            onnx_file(models_dir, model_path).unlink(missing_ok=True)
        exported = ensure_onnx(models_dir, model_path, quantized)
        return OnnxEmbedder(exported, model_path, name, max_batch, threads)


class OnnxEmbedder(BatchingEmbedder):
    """MiniLM through ONNX Runtime and Hugging Face ``tokenizers``; no torch import.

    ``threads`` is ONNX Runtime's intra-op thread count for one forward pass. Spinning is
    off: idle pool threads that spin would take a core from the web server's other work on
    a small host. Raises EmbeddingError (UnreadableExport for the ONNX file itself).
    """

    def __init__(
        self, onnx_path: Path, model_path: Path, name: str, max_batch: int = 32, threads: int = 2
    ) -> None:
        hub_offline()  # TOKENIZERS_PARALLELISM off: the tokenizer's own threads would
        # ignore ``threads`` and take every core
        super().__init__(name, max_batch)
        self.model_path, self.onnx_path = model_path, onnx_path
        max_tokens = _pipeline_config(model_path)
        try:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
            self._tokenizer.enable_truncation(max_length=max_tokens)
            # The file may pad every text to a fixed length (MiniLM's pads to 128);
            # _pass pads each batch to its own longest text instead.
            self._tokenizer.no_padding()
        except Exception as exc:  # tokenizers raises its own kinds
            raise EmbeddingError(f"cannot load the tokenizer of {model_path}: {exc}") from exc
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EmbeddingError(f"the ONNX backend needs onnxruntime: {exc}") from exc
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(
                str(onnx_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own kinds
            raise UnreadableExport(f"cannot load ONNX model {onnx_path}: {exc}") from exc
        self._wants_types = any(i.name == "token_type_ids" for i in self._session.get_inputs())

    def _run(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encoded = self._tokenizer.encode_batch(texts)
        # As sentence-transformers' encode does: longest first, in chunks, so a batch is
        # padded only to its own longest text, not the longest of thousands.
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i].ids))
        out = np.empty((len(texts), 0), dtype=np.float32)
        for start in range(0, len(order), CHUNK):
            rows = order[start : start + CHUNK]
            vectors = self._pass([encoded[i] for i in rows])
            if out.shape[1] == 0:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out

    def _pass(self, encoded: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(encoded), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encoded):
            ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, e.attention_mask
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._wants_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)
