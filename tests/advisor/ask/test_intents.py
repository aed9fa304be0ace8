"""Turns that are not searched: small talk, noise and other languages, and what follows them."""

from __future__ import annotations

import pytest

from advisor.ask.intents import classify, detect_language
from advisor.contract import GREETING_REPLY, NOISE_REPLY, SMALLTALK_REPLY
from advisor.facade import Advisor


@pytest.mark.parametrize("message", ["thanks!", "ok cheers", "Perfect, that clears it up. Thanks"])
def test_small_talk_gets_a_short_reply_without_search(advisor: Advisor, message: str) -> None:
    answer = advisor.ask(message)
    assert answer.intent == "smalltalk" and not answer.answered
    assert answer.answer == SMALLTALK_REPLY and not answer.citations
    assert "retrieve" not in answer.timings


def test_a_greeting_gets_a_greeting(advisor: Advisor) -> None:
    assert advisor.ask("hi there").answer == GREETING_REPLY


def test_a_greeting_with_a_question_is_a_question(advisor: Advisor) -> None:
    answer = advisor.ask("hi, what is a CRMO?")
    assert answer.intent == "question" and answer.answered


def test_noise_asks_to_rephrase_and_never_replays_the_last_answer(advisor: Advisor) -> None:
    first = advisor.ask("Why do CRM projects fail?")
    noise = advisor.ask("xxxxxxxx", first.conversation_id)
    assert noise.intent == "noise" and noise.answer == NOISE_REPLY and not noise.citations
    assert noise.turn == 2  # stored like any turn


def test_a_follow_up_after_small_talk_resolves_against_the_last_real_question(
    advisor: Advisor,
) -> None:
    first = advisor.ask("What is a CRMO?")
    advisor.ask("thanks!", first.conversation_id)
    advisor.ask("asdf qwer", first.conversation_id)
    follow = advisor.ask("Who usually gets that job?", first.conversation_id)
    assert follow.standalone_question.endswith("(following on from: What is a CRMO?)")
    assert follow.answered and "CIO" in follow.answer


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("¿Por qué fracasan los proyectos de CRM?", "Spanish"),
        ("Warum scheitern so viele CRM-Projekte?", "German"),
        ("Pourquoi les projets CRM échouent-ils si souvent ?", "French"),
    ],
)
def test_another_language_is_named_and_nothing_is_presented_as_evidence(
    advisor: Advisor, question: str, language: str
) -> None:
    answer = advisor.ask(question)
    assert answer.intent == "other_language" and not answer.answered
    assert language in answer.answer and "English" in answer.answer
    assert not answer.citations


def test_the_detector_runs_offline_and_english_stays_english() -> None:
    code, probability = detect_language("Who should own the CRM project in our company?")
    assert code == "en" and probability > 0.5


def test_classify_reads_the_words_it_is_given() -> None:
    def known(word: str) -> bool:
        return word in {"crm", "pilot", "who", "the", "should", "what", "about", "and"}

    def far(text: str) -> float:
        return 0.1

    assert classify("great, thanks", known, far).kind == "smalltalk"
    assert classify("great, and what about pilots?", known, far).kind == "question"
    assert classify("qwpeo zzxm", known, far).kind == "noise"
    assert classify("Who should own the CRM?", known, far).kind == "question"
