"""The core's settings: one pydantic-settings class, read from ADVISOR_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from advisor.errors import ConfigError

# The repository root, so that the shipped corpus and prompts are found from any cwd.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """``.advisor`` in the checkout when the package runs from one (so every command finds
    the same index from any folder), else the platform's user data folder (platformdirs)."""
    if (PROJECT_ROOT / "pyproject.toml").exists() and (PROJECT_ROOT / "corpus").is_dir():
        return PROJECT_ROOT / ".advisor"
    from platformdirs import user_data_path

    return user_data_path("crm-advisor", appauthor=False)


class Settings(BaseSettings):
    """The core's settings; each field is ADVISOR_<NAME> in the environment.

    Front doors keep their own settings (keys, CORS, rate limits, Slack) in
    ``bot.settings``, under the same prefix; variables of theirs are ignored here.
    """

    model_config = SettingsConfigDict(env_prefix="ADVISOR_", env_file=None, extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="Where indexes, models and the database live (default: .advisor in the "
        "checkout when run from one, else the platform's user data folder).",
    )
    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="Articles, notes and rules.")
    documents_dir: Path | None = Field(
        None,
        description="Where documents added with `advisor add` are kept, as corpus Markdown "
        "(default: <data_dir>/documents); ingested with the corpus.",
    )
    max_document_mb: float = Field(
        50.0, gt=0, le=2048, description="Largest file `advisor add` or an upload accepts, MB."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the conversation store; default SQLite in data_dir."
    )
    embedder: str = Field(
        "onnx",
        description="Embedding backend: onnx (MiniLM on ONNX Runtime), onnx-int8 (its int8 "
        "quantisation), torch (sentence-transformers on PyTorch).",
    )
    embedding_model: str | None = Field(
        None, description="Path of a sentence-transformers model; default the bundled MiniLM."
    )
    onnx_threads: int = Field(
        2, ge=1, le=64, description="ONNX Runtime threads for one embedding pass (intra-op)."
    )
    embed_batch: int = Field(
        32,
        ge=1,
        le=256,
        description="Most concurrent queries embedded in one pass; 1 embeds each alone.",
    )
    collection: str = Field("crm_corpus", description="Chroma collection name.")
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (`chroma run`) with the index; default: local files.",
    )
    index_poll_seconds: float = Field(
        2.0, ge=0.0, le=3600, description="With a Chroma server, seconds between new-index checks."
    )
    generator: str = Field(
        "extractive", description="Offline answer generator; also the LLM's safety net."
    )
    prompts_dir: Path = Field(PROJECT_ROOT / "prompts", description="The LLM prompt templates.")

    llm: str = Field(
        "none", description="LLM backend: none (extractive only), openai, anthropic, llamacpp."
    )
    llm_base_url: str | None = Field(
        None, description="Endpoint of the LLM API, e.g. http://localhost:11434/v1 for Ollama."
    )
    llm_model: str | None = Field(
        None, description="Model name at the endpoint (ignored by llamacpp, which loads a file)."
    )
    llm_api_key: SecretStr | None = Field(
        None, description="API key for the LLM endpoint; local servers usually need none."
    )
    llm_model_path: Path | None = Field(
        None, description="GGUF file for the in-process llamacpp backend."
    )
    llm_context: int = Field(4096, ge=512, le=131072, description="Context tokens (llamacpp).")
    llm_chat_format: str | None = Field(
        None, description="llama-cpp-python chat format (e.g. gemma); default: the file's own."
    )
    llm_system_role: bool = Field(
        True,
        description="Send the rules as a system message; off for templates that drop it (Gemma).",
    )
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    llm_max_tokens: int = Field(400, ge=16, le=8192, description="Most tokens an LLM may write.")
    llm_timeout: float = Field(
        20.0, gt=0, le=600, description="Seconds one LLM request may take to connect and reply."
    )
    llm_max_retries: int = Field(
        2, ge=0, le=10, description="Retries of a failed LLM request before the first token."
    )
    llm_backoff: float = Field(
        0.5, ge=0, le=30, description="First retry delay in seconds; it doubles each retry."
    )
    llm_deadline: float = Field(
        45.0, gt=0, le=600, description="Seconds before an LLM answer is given up for extractive."
    )
    llm_cooldown: float = Field(
        30.0, ge=0, le=3600, description="After an LLM failure, seconds to answer extractively."
    )
    llm_condense: bool = Field(
        True, description="Let the LLM rewrite follow-ups into standalone questions."
    )
    guard: Literal["remove", "flag", "off"] = Field(
        "remove", description="Grounding guard on LLM sentences: remove or flag unsupported ones."
    )
    guard_threshold: float = Field(
        0.7, ge=0.0, le=1.0, description="Least support score for an LLM sentence to stand."
    )
    guard_min_supported: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Least share of supported LLM sentences; below it, the extractive answer.",
    )

    review_training_dir: Path = Field(
        PROJECT_ROOT / "training" / "plan-sentences",
        description="Labelled plan sentences the plan-review classifier is trained on.",
    )
    review_model_dir: Path | None = Field(
        None,
        description="Where built models are kept: the plan-review classifier and the ONNX "
        "export of the embedding model (default: <data_dir>/models). "
        "Files are named by a digest of their inputs, so data folders may share one.",
    )
    question_training_dir: Path = Field(
        PROJECT_ROOT / "training" / "question-types",
        description="Labelled questions the question-type reader is trained on (per process).",
    )
    chunk_size: int = Field(600, ge=100, le=4000, description="Max characters per passage.")
    k_dense: int = Field(12, ge=1, le=100, description="Candidates from dense search.")
    k_lexical: int = Field(12, ge=1, le=100, description="Candidates from BM25.")
    k_final: int = Field(6, ge=1, le=20, description="Passages kept after fusion and MMR.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    lexical_weight: float = Field(
        1.0, ge=0.0, le=2.0, description="Weight of the BM25 ranking in the fusion (dense is 1)."
    )
    mmr_lambda: float = Field(0.7, ge=0.0, le=1.0, description="MMR relevance/diversity balance.")
    min_relevance: float = Field(
        0.35, ge=0.0, le=1.0, description="Relevance gate: least cosine of the best passage."
    )
    min_sentence_relevance: float = Field(
        0.3, ge=0.0, le=1.0, description="Least cosine for a sentence to enter an answer."
    )
    max_answer_sentences: int = Field(
        8, ge=1, le=20, description="Sentences in an answer, the direct answer included."
    )
    question_match: bool = Field(
        True, description="Match questions against the answer entries' phrasings as well."
    )
    direct_answer_min: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="Least cosine between the question and an answer entry's phrasing for the "
        "entry's first sentence to lead the answer as the direct answer.",
    )
    history_turns: int = Field(6, ge=0, le=50, description="Turns of history used by follow-ups.")
    otlp_endpoint: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(:\d+)?/?$",
        description="OTLP/gRPC collector (http://host:4317) to send a trace of each turn's "
        "steps to; unset, nothing is traced.",
    )
    otel_service_name: str = Field(
        "crm-advisor", min_length=1, max_length=100, description="service.name of the traces."
    )

    @property
    def documents_path(self) -> Path:
        """Folder of the added documents."""
        return self.documents_dir or self.data_dir / "documents"

    @property
    def models_dir(self) -> Path:
        """Folder of built models (plan-review classifier, ONNX export)."""
        return self.review_model_dir or self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        """Folder holding the index generations."""
        return self.data_dir / "index"

    @property
    def resolved_database_url(self) -> str:
        """The store URL, defaulting to SQLite under data_dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'advisor.db').resolve()}"


S = TypeVar("S", bound=BaseSettings)
BAD_SETTING = "bad setting: "


def settings_from_env(cls: type[S]) -> S:
    """Build a settings class from ADVISOR_* variables; ConfigError names each bad one."""
    try:
        return cls()
    except ValidationError as exc:
        problems = "; ".join(
            f"ADVISOR_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"{BAD_SETTING}{problems}") from None


@lru_cache
def get_settings() -> Settings:
    """The process-wide core settings, built on first use; ConfigError names each bad one."""
    return settings_from_env(Settings)
