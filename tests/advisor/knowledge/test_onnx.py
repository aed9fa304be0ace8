"""MiniLM on ONNX Runtime: the same vectors as PyTorch, an export keyed by the model, no torch
on the query path, and clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from advisor.config import PROJECT_ROOT, Settings
from advisor.errors import EmbeddingError, IndexNotReadyError
from advisor.knowledge import ingest as ingest_module
from advisor.knowledge import onnx_minilm
from advisor.knowledge.embeddings import (
    BatchingEmbedder,
    embedder_name,
    make_embedder,
    prepare_embedder,
    vector_space,
)
from advisor.knowledge.ingest import ingest
from advisor.knowledge.manifest import diff
from advisor.knowledge.onnx_minilm import OnnxEmbedder, model_digest, onnx_file
from advisor.knowledge.snapshot import IndexSnapshot
from evals.harness import questions

TEXTS = [
    "Why do CRM projects fail?",
    "Who should own the CRM programme once the consultants leave, and how should the rollout "
    "be phased across twelve offices when there is no pilot and no fallback?",
    "Pilot: n/a",
    "ÉTAPE 1 : choisir l'éditeur — 450 licences",
    "word " * 400,  # past the 256-token window: both must cut it at the same place
    "",
]


@pytest.fixture(scope="module")
def torch_model() -> BatchingEmbedder:
    made = make_embedder(Settings(data_dir=Path("unused"), embedder="torch"))
    assert isinstance(made, BatchingEmbedder)
    return made


def test_fp32_vectors_match_pytorch(embedder, torch_model: BatchingEmbedder) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(embedder, OnnxEmbedder)  # the default backend
    onnx = np.array(embedder.embed_documents(TEXTS))  # one padded batch
    reference = np.array(torch_model.embed_documents(TEXTS))
    cosine = (onnx * reference).sum(axis=1)
    assert cosine.min() > 1 - 1e-5
    single = np.array([embedder.embed_query(t) for t in TEXTS[:3]])
    assert (single * reference[:3]).sum(axis=1).min() > 1 - 1e-5
    assert embedder.name == torch_model.name  # so both read one index and one cache


def test_a_short_text_is_not_padded_to_the_files_fixed_length(embedder) -> None:  # type: ignore[no-untyped-def]
    # MiniLM's tokenizer.json pads every text to 128 tokens: a 7-token query would cost a
    # 128-token pass (30 ms instead of 8 here) with the very same vector.
    assert len(embedder._tokenizer.encode("Why do CRM projects fail?").ids) < 16


def test_a_long_list_is_embedded_in_chunks_and_keeps_its_order(embedder, torch_model) -> None:  # type: ignore[no-untyped-def]
    texts = [q * (1 + i % 3) for i, q in enumerate(questions()[:75])]  # three chunks, mixed
    onnx = np.array(embedder.embed_documents(texts))
    reference = np.array(torch_model.embed_documents(texts))
    assert (onnx * reference).sum(axis=1).min() > 1 - 1e-5


def test_both_backends_share_a_vector_space_and_int8_has_its_own() -> None:
    names = {b: embedder_name(Settings(data_dir=Path("x"), embedder=b)) for b in ("onnx", "torch")}
    assert names["onnx"] == names["torch"]
    spaces = {vector_space(Settings(data_dir=Path("x"), embedder=b)) for b in ("onnx", "torch")}
    assert spaces == {"minilm"}  # what indexes built before the ONNX backend recorded
    int8 = Settings(data_dir=Path("x"), embedder="onnx-int8")
    assert embedder_name(int8) != names["onnx"] and vector_space(int8) == "onnx-int8"


def test_int8_variant_is_built_once_and_stays_close(embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=Path("unused"), embedder="onnx-int8")
    quantized = make_embedder(settings)
    path = onnx_file(settings.models_dir, Path(embedder.model_path), quantized=True)
    assert (
        path.is_file()
        and path.stat().st_size
        < 0.5 * path.with_name(path.name.replace("-int8", "")).stat().st_size
    )
    ours = np.array(quantized.embed_documents(TEXTS[:4]))
    fp32 = np.array(embedder.embed_documents(TEXTS[:4]))
    cosine = (ours * fp32).sum(axis=1)
    assert 0.9 < cosine.min() < 1 - 1e-5  # close, and not the same model under another name


def _model_copy(tmp_path: Path, source: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(source, copy)
    return copy


def test_the_export_is_keyed_by_the_models_digest(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    source = Path(embedder.model_path)
    copy = _model_copy(tmp_path, source)
    assert model_digest(copy) == model_digest(source)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-6}))
    assert model_digest(copy) != model_digest(source)
    assert onnx_file(tmp_path, copy) != onnx_file(tmp_path, source)


def test_a_pooling_other_than_the_mean_is_refused(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    copy = _model_copy(tmp_path, Path(embedder.model_path))
    (copy / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    settings = Settings(data_dir=tmp_path, embedding_model=str(copy))
    with pytest.raises(EmbeddingError, match="only mean pooling"):
        make_embedder(settings)


def test_a_missing_export_without_torch_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    settings = Settings(data_dir=tmp_path, review_model_dir=tmp_path / "models")
    with pytest.raises(EmbeddingError, match="needs torch"):
        make_embedder(settings)
    left = [p.name for p in (tmp_path / "models" / "onnx").iterdir()]
    assert left == [".export.lock"]  # no export and no temporary file


def test_an_export_cut_short_is_made_again(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    models = tmp_path / "models"
    settings = Settings(data_dir=tmp_path, review_model_dir=models)
    good = onnx_file(embedder.onnx_path.parent.parent, embedder.model_path)
    broken = onnx_file(models, embedder.model_path)
    broken.parent.mkdir(parents=True)
    broken.write_bytes(good.read_bytes()[:100])  # as a copy or a full disk leaves it
    again = make_embedder(settings)
    assert broken.stat().st_size == good.stat().st_size
    assert np.allclose(again.embed_query(TEXTS[0]), embedder.embed_query(TEXTS[0]), atol=1e-6)


def test_an_answer_and_a_review_import_neither_torch_nor_scikit_learn(
    settings: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    """A question and a plan review in a fresh process, on the shared index: ONNX Runtime
    only, and the learned readers' saved arrays, not scikit-learn (nor an LLM's stack)."""
    from advisor.facade import Advisor

    made = Advisor(settings, embedder=embedder)  # both readers saved, as `make model` leaves them
    made.review_model()
    assert made.question_typer.texts
    script = (
        "import sys\n"
        "from advisor import Advisor, Settings\n"
        "advisor = Advisor(Settings())\n"
        "answer = advisor.ask('Who should own the CRM project?')\n"
        "assert answer.answered, answer\n"
        "review = advisor.review('Phase 1: buy CRM licences for all teams. "
        "Phase 2: every team switches over on the same day.')\n"
        "assert review.findings, review\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'sklearn',"
        " 'langchain_core.language_models.base')\n"
        "print('heavy:', sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "ADVISOR_DATA_DIR": str(settings.data_dir),
        "ADVISOR_DATABASE_URL": settings.resolved_database_url,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "heavy: []" in done.stdout


def test_an_index_of_the_old_name_serves_both_backends_and_int8_rebuilds_it() -> None:
    old = {"embedder": "minilm", "embedding_model": "", "passages": {"a#0": "1"}}
    for backend, kept in (("onnx", True), ("torch", True), ("onnx-int8", False)):
        found = diff(Settings(data_dir=Path("x"), embedder=backend), old, {"a#0": "1"})
        assert found.same_setup is kept, backend
        assert (found.unchanged == {"a#0"}) is kept


def test_an_index_of_another_vector_space_is_refused_not_searched(
    settings: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    IndexSnapshot(settings, embedder).close()  # the shared index, built with onnx
    int8 = settings.model_copy(update={"embedder": "onnx-int8"})
    with pytest.raises(IndexNotReadyError, match="run `advisor ingest`"):
        IndexSnapshot(int8, embedder)


def test_ingest_prepares_the_export_once_before_anything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder
) -> None:  # type: ignore[no-untyped-def]
    made: list[Path] = []

    def export(model: Path, dest: Path) -> Path:  # the real export's file, without torch
        made.append(dest)
        shutil.copyfile(embedder.onnx_path, dest)
        return dest

    monkeypatch.setattr(onnx_minilm, "export_onnx", export)
    settings = Settings(data_dir=tmp_path, review_model_dir=tmp_path / "models")
    prepare_embedder(settings)
    prepare_embedder(settings)
    assert made == [onnx_file(tmp_path / "models", embedder.model_path)]

    def refuse(settings: Settings) -> None:
        raise EmbeddingError("no export")

    monkeypatch.setattr(ingest_module, "prepare_embedder", refuse)
    with pytest.raises(EmbeddingError, match="no export"):
        ingest(settings)  # an `advisor ingest` whose index would need no work still asks
