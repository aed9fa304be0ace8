"""LLM backends: built from settings, and run for real against llama.cpp (server and in process)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from advisor.ask.llamacpp import LlamaCppChat
from advisor.ask.llm import make_chat_model
from advisor.config import Settings
from advisor.errors import ConfigError
from advisor.facade import Advisor
from tests.advisor.ask.test_writer import QUESTION, assert_grounded
from tests.llm_server import MODEL_ALIAS, gguf_path


def test_none_means_no_model_and_unknown_names_are_refused() -> None:
    assert make_chat_model(Settings(llm="none")) is None
    with pytest.raises(ConfigError, match="unknown LLM backend 'gpt'; known: none, openai"):
        make_chat_model(Settings(llm="gpt"))


def test_each_backend_says_what_it_needs(tmp_path) -> None:
    with pytest.raises(ConfigError, match="ADVISOR_LLM_MODEL"):
        make_chat_model(Settings(llm="openai", llm_base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ConfigError, match="ADVISOR_LLM_API_KEY"):
        make_chat_model(Settings(llm="anthropic", llm_model="claude-x"))
    with pytest.raises(ConfigError, match="ADVISOR_LLM_MODEL_PATH"):
        make_chat_model(Settings(llm="llamacpp"))
    with pytest.raises(ConfigError, match="is not a file"):
        make_chat_model(Settings(llm="llamacpp", llm_model_path=tmp_path / "absent.gguf"))


def test_backends_carry_the_timeout_and_leave_retries_to_the_writer() -> None:
    openai: Any = make_chat_model(
        Settings(llm="openai", llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_timeout=7)
    )
    assert (openai.model_name, openai.openai_api_base) == ("m", "http://127.0.0.1:9/v1")
    assert openai.request_timeout == 7 and openai.max_retries == 0
    assert openai.extra_body == {"max_tokens": 400}
    anthropic: Any = make_chat_model(
        Settings(llm="anthropic", llm_model="claude-x", llm_api_key=SecretStr("k"))
    )
    assert anthropic.model == "claude-x" and anthropic.max_retries == 0
    local = make_chat_model(Settings(llm="llamacpp", llm_model_path=gguf_path()))
    assert isinstance(local, LlamaCppChat)


def test_a_real_openai_compatible_server_gives_guarded_answers(llm_settings, embedder) -> None:
    advisor = Advisor(llm_settings, embedder=embedder)
    answer = advisor.ask(QUESTION)
    assert answer.answered and answer.guard is not None and answer.guard.sentences > 0
    if answer.generator == f"openai:{MODEL_ALIAS}":
        assert not answer.fallback and answer.guard.supported > 0
    else:  # the 270M model rarely cites; then the guard hands over to the extractive answer
        assert answer.generator == "extractive" and answer.fallback
    assert_grounded(answer, embedder)
    stats = advisor.stats()
    assert stats["llm"] == f"openai:{MODEL_ALIAS}" and stats["requests"] == 1
    assert stats["sentences"] == answer.guard.sentences


def test_with_the_guard_off_the_models_own_text_reaches_the_user(llm_settings, embedder) -> None:
    advisor = Advisor(llm_settings.model_copy(update={"guard": "off"}), embedder=embedder)
    answer = advisor.ask(QUESTION)
    assert answer.generator == f"openai:{MODEL_ALIAS}" and not answer.fallback
    assert answer.guard is not None and answer.guard.mode == "off"
    assert not answer.guard.stepped_in and answer.answer.strip()


def test_the_in_process_llamacpp_backend_answers(settings: Settings, embedder) -> None:
    local = settings.model_copy(
        update={
            "llm": "llamacpp",
            "llm_model_path": gguf_path(),
            "llm_chat_format": "gemma",
            "llm_system_role": False,
            "llm_max_tokens": 160,
            "llm_deadline": 180,
        }
    )
    advisor = Advisor(local, embedder=embedder)
    advisor.warm()
    answer = advisor.ask(QUESTION)
    assert answer.answered and answer.guard is not None and answer.guard.sentences > 0
    assert answer.generator in ("extractive", "llamacpp:gemma-3-270m-q4_k_m")
    assert_grounded(answer, embedder)
