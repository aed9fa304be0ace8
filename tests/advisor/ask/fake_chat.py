"""A fake chat model with queued replies (like llm's MockModel), for the writer's unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import Field


class ScriptedChat(BaseChatModel):
    """Replies from a queue, word by word; can pause per word or fail the first calls.

    ``replies`` entries are strings, or callables given the prompt text (a model that reacts
    to what it is shown). Every prompt it receives is kept in ``received``.
    """

    replies: list[str | Callable[[str], str]] = Field(default_factory=list)
    delay: float = 0.0
    failures: int = 0
    received: list[str] = Field(default_factory=list)
    model_name: str = "scripted"

    @property
    def _llm_type(self) -> str:
        return "fake"

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
        prompt = "\n\n".join(m.text for m in messages)
        self.received.append(prompt)
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("connection refused (scripted)")
        if not self.replies:
            raise AssertionError("the scripted chat model has no reply left")
        reply = self.replies.pop(0)
        text = reply(prompt) if callable(reply) else reply
        for word in text.split(" "):
            if self.delay:
                time.sleep(self.delay)
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
