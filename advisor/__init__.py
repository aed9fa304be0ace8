"""CRM Advisor's core: knowledge, retrieval, cited answers and plan review.

``Advisor`` is its face. Front doors (``bot``) and the evals (``evals``) import only the
names listed in ``__all__`` from this package, never its modules; a test enforces it
(``tests/test_layering.py``). Names load lazily, so that ``import advisor`` does not
load LangChain, Chroma or torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_PUBLIC: dict[str, str] = {
    # the face, its settings and its stores
    "Advisor": "advisor.facade",
    "Settings": "advisor.config",
    "get_settings": "advisor.config",
    "settings_from_env": "advisor.config",
    "PROJECT_ROOT": "advisor.config",
    "open_database": "advisor.memory",
    "review_document": "advisor.review.render",
    "answer_document": "advisor.review.render",
    "ingest": "advisor.knowledge.ingest",
    "IngestReport": "advisor.knowledge.manifest",
    "DocumentLibrary": "advisor.knowledge.library",
    "AddOutcome": "advisor.knowledge.library",
    "AddedFile": "advisor.knowledge.library",
    "FORMATS": "advisor.knowledge.convert",
    "PATTERNS": "advisor.patterns",
    "LANGUAGES": "advisor.ask.intents",
    "QUESTION_TYPES": "advisor.ask.questions",
    "REGISTRY": "advisor.patterns",
    "FailurePattern": "advisor.patterns",
    # the answer contract
    "Answer": "advisor.contract",
    "Citation": "advisor.contract",
    "ConversationSummary": "advisor.contract",
    "Feedback": "advisor.contract",
    "Finding": "advisor.contract",
    "GuardReport": "advisor.contract",
    "Review": "advisor.contract",
    "SourceInfo": "advisor.contract",
    "Strength": "advisor.contract",
    "StreamEvent": "advisor.contract",
    "Turn": "advisor.contract",
    "EVIDENCE_HEADING": "advisor.contract",
    "DIRECT_HEADING": "advisor.contract",
    "ADVICE_HEADING": "advisor.contract",
    # input checks
    "check_conversation_id": "advisor.inputs",
    "clean_plan": "advisor.inputs",
    "CONVERSATION_ID": "advisor.inputs",
    "MAX_COMMENT_CHARS": "advisor.inputs",
    # errors
    "AdvisorError": "advisor.errors",
    "ConfigError": "advisor.errors",
    "ConversationNotFoundError": "advisor.errors",
    "InvalidInputError": "advisor.errors",
    "StoreError": "advisor.errors",
    "DocumentError": "advisor.errors",
    "DocumentNotFoundError": "advisor.errors",
    # what the evals measure with: generators, grounding, text
    "CHAT_MODELS": "advisor.ask.llm",
    "Composition": "advisor.ask.compose",
    "Generator": "advisor.ask.compose",
    "Segment": "advisor.ask.compose",
    "Retrieval": "advisor.ask.retrieval",
    "SupportChecker": "advisor.ask.grounding",
    "cited_sentences": "advisor.ask.grounding",
    "negated": "advisor.ask.grounding",
    "content_terms": "advisor.text",
    "names": "advisor.text",
    "numbers": "advisor.text",
    "split_sentences": "advisor.text",
}

__all__ = [
    "ADVICE_HEADING",
    "CHAT_MODELS",
    "CONVERSATION_ID",
    "DIRECT_HEADING",
    "EVIDENCE_HEADING",
    "FORMATS",
    "LANGUAGES",
    "MAX_COMMENT_CHARS",
    "PATTERNS",
    "PROJECT_ROOT",
    "QUESTION_TYPES",
    "REGISTRY",
    "AddOutcome",
    "AddedFile",
    "Advisor",
    "AdvisorError",
    "Answer",
    "Citation",
    "Composition",
    "ConfigError",
    "ConversationNotFoundError",
    "ConversationSummary",
    "DocumentError",
    "DocumentLibrary",
    "DocumentNotFoundError",
    "FailurePattern",
    "Feedback",
    "Finding",
    "Generator",
    "GuardReport",
    "IngestReport",
    "InvalidInputError",
    "Retrieval",
    "Review",
    "Segment",
    "Settings",
    "SourceInfo",
    "StoreError",
    "StreamEvent",
    "Strength",
    "SupportChecker",
    "Turn",
    "answer_document",
    "check_conversation_id",
    "cited_sentences",
    "clean_plan",
    "content_terms",
    "get_settings",
    "ingest",
    "names",
    "negated",
    "numbers",
    "open_database",
    "review_document",
    "settings_from_env",
    "split_sentences",
]

if TYPE_CHECKING:
    from advisor.ask.compose import Composition, Generator, Segment
    from advisor.ask.grounding import SupportChecker, cited_sentences, negated
    from advisor.ask.llm import CHAT_MODELS
    from advisor.ask.retrieval import Retrieval
    from advisor.config import PROJECT_ROOT, Settings, get_settings, settings_from_env
    from advisor.contract import (
        ADVICE_HEADING,
        EVIDENCE_HEADING,
        Answer,
        Citation,
        ConversationSummary,
        Feedback,
        Finding,
        GuardReport,
        Review,
        SourceInfo,
        StreamEvent,
        Strength,
        Turn,
    )
    from advisor.errors import (
        AdvisorError,
        ConfigError,
        ConversationNotFoundError,
        DocumentError,
        DocumentNotFoundError,
        InvalidInputError,
        StoreError,
    )
    from advisor.facade import Advisor
    from advisor.inputs import (
        CONVERSATION_ID,
        MAX_COMMENT_CHARS,
        check_conversation_id,
        clean_plan,
    )
    from advisor.knowledge.convert import FORMATS
    from advisor.knowledge.ingest import ingest
    from advisor.knowledge.library import AddedFile, AddOutcome, DocumentLibrary
    from advisor.knowledge.manifest import IngestReport
    from advisor.memory import open_database
    from advisor.patterns import PATTERNS, REGISTRY, FailurePattern
    from advisor.review.render import answer_document, review_document
    from advisor.text import content_terms, names, numbers, split_sentences


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'advisor' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value
