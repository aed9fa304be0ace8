"""LLM backends: LangChain chat models by name, built from the settings.

Each backend is a factory from ``Settings`` to a LangChain ``BaseChatModel``, registered in
``CHAT_MODELS`` like any other would be. Retries are left to the writer (``advisor.writer``),
which knows whether a token has already reached the user, so clients here never retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from advisor.config import Settings
from advisor.errors import ConfigError

ChatModelFactory = Callable[[Settings], BaseChatModel]


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
    if isinstance(chat, LlamaCppChat):
        model = Path(chat.model_path).stem
    kind = backend or chat._llm_type
    return f"{kind}:{model}" if model else kind


class LlamaCppChat(BaseChatModel):
    """A LangChain chat model over llama-cpp-python's ``Llama``, loaded on first use."""

    model_path: str
    chat_format: str | None = None
    n_ctx: int = 4096
    temperature: float = 0.0
    max_tokens: int = 400

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    def warm(self) -> None:
        """Load the model file now rather than on the first question."""
        self._client()

    def _client(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=self.model_path,
                chat_format=self.chat_format,
                n_ctx=self.n_ctx,
                verbose=False,
            )
        return self._llama

    def _payload(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        return {
            "messages": [{"role": roles.get(m.type, "user"), "content": m.text} for m in messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": stop or [],
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # One Llama context serves one generation at a time.
        with self._lock:
            parts = self._client().create_chat_completion(
                **self._payload(messages, stop), stream=True
            )
            for part in parts:
                delta = part["choices"][0].get("delta", {}).get("content") or ""
                if delta:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk
