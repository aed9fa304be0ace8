"""LLM backends: LangChain chat models by name, built from the settings.

Each factory imports its own client, so a process that answers without an LLM never loads
LangChain's chat-model stack; ``advisor.ask.llamacpp`` holds the in-process model.

Each backend is a factory from ``Settings`` to a LangChain ``BaseChatModel``, registered in
``CHAT_MODELS`` like any other would be. Retries are left to the writer (``advisor.writer``),
which knows whether a token has already reached the user, so clients here never retry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.config import Settings
from advisor.errors import ConfigError

if TYPE_CHECKING:  # imported by each factory: LangChain's chat-model stack takes ~0.8 s
    from langchain_core.language_models import BaseChatModel

ChatModelFactory = Callable[[Settings], "BaseChatModel"]


def _need(value: Any, variable: str, backend: str) -> Any:
    if not value:
        raise ConfigError(f"the {backend} LLM backend needs {variable}")
    return value


def _openai(settings: Settings) -> BaseChatModel:
    """Any OpenAI-compatible server: OpenAI, Azure, Ollama, vLLM, LM Studio, llama.cpp."""
    from langchain_openai import ChatOpenAI

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return ChatOpenAI(
        model=_need(settings.llm_model, "ADVISOR_LLM_MODEL", "openai"),
        base_url=settings.llm_base_url,
        # Local servers take any key, but the client refuses to start without one.
        api_key=key or ("not-needed" if settings.llm_base_url else None),
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        # The client sends only max_completion_tokens, which some compatible servers
        # (llama.cpp's among them) ignore; they read the older max_tokens.
        extra_body={"max_tokens": settings.llm_max_tokens} if settings.llm_base_url else None,
    )


def _anthropic(settings: Settings) -> BaseChatModel:
    """Anthropic's Messages API."""
    from langchain_anthropic import ChatAnthropic

    key = _need(settings.llm_api_key, "ADVISOR_LLM_API_KEY", "anthropic")
    extra = {"base_url": settings.llm_base_url} if settings.llm_base_url else {}
    return ChatAnthropic(
        model=_need(settings.llm_model, "ADVISOR_LLM_MODEL", "anthropic"),
        api_key=key,
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        **extra,
    )


def _llamacpp(settings: Settings) -> BaseChatModel:
    """A local GGUF file run in this process by llama-cpp-python."""
    path = _need(settings.llm_model_path, "ADVISOR_LLM_MODEL_PATH", "llamacpp")
    if not Path(path).is_file():
        raise ConfigError(f"ADVISOR_LLM_MODEL_PATH {path} is not a file")
    from advisor.ask.llamacpp import LlamaCppChat

    return LlamaCppChat(
        model_path=str(path),
        chat_format=settings.llm_chat_format,
        n_ctx=settings.llm_context,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
    )


CHAT_MODELS: dict[str, ChatModelFactory] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "llamacpp": _llamacpp,
}
"""LLM backends by name (``ADVISOR_LLM``); ``none`` means the extractive generator alone."""


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model that ``ADVISOR_LLM`` names, or None for ``none``."""
    if settings.llm == "none":
        return None
    try:
        factory = CHAT_MODELS[settings.llm]
    except KeyError:
        known = ", ".join(["none", *CHAT_MODELS])
        raise ConfigError(f"unknown LLM backend {settings.llm!r}; known: {known}") from None
    try:
        return factory(settings)
    except ImportError as exc:
        raise ConfigError(
            f"the {settings.llm} LLM backend needs a package that is not installed: {exc.name}"
        ) from exc


def describe(chat: BaseChatModel, backend: str | None = None) -> str:
    """A short name for a chat model, ``backend:model``, as answers report it."""
    model = getattr(chat, "model_name", None) or getattr(chat, "model", None)
    if chat._llm_type == "llamacpp":
        model = Path(getattr(chat, "model_path", "")).stem or None
    kind = backend or chat._llm_type
    return f"{kind}:{model}" if model else kind
