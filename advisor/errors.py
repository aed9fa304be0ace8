"""The advisor's error hierarchy; front doors translate these for their users."""

from __future__ import annotations


class AdvisorError(Exception):
    """Base of every error the advisor raises on purpose."""

    #: A stable, machine-readable slug (used as the problem ``type`` over HTTP).
    code = "advisor-error"


class ConfigError(AdvisorError):
    """A setting is missing or invalid."""

    code = "config-error"


class PromptError(ConfigError):
    """A prompt template is missing, or rendering it lacks a variable."""

    code = "prompt-error"


class CorpusError(AdvisorError):
    """One or more corpus files cannot be ingested; ``problems`` names each file and reason."""

    code = "corpus-error"

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class IndexNotReadyError(AdvisorError):
    """No usable index exists yet (run ``advisor ingest``)."""

    code = "index-not-ready"


class IndexingError(AdvisorError):
    """Building or updating the index failed."""

    code = "indexing-error"


class EmbeddingError(AdvisorError):
    """The embedding model could not be loaded or run."""

    code = "embedding-error"


class RetrievalError(AdvisorError):
    """Searching the index failed."""

    code = "retrieval-error"


class GenerationError(AdvisorError):
    """The answer generator failed."""

    code = "generation-error"


class LLMError(GenerationError):
    """The LLM backend failed, timed out or is cooling down; the extractive answer stands in."""

    code = "llm-error"


class StoreError(AdvisorError):
    """The conversation store could not be read or written."""

    code = "store-error"

    @classmethod
    def of(cls, doing: str, exc: BaseException) -> StoreError:
        """``<doing>: <the database driver's reason>``, for ``raise … from exc``.

        SQLAlchemy's own message carries the SQL statement and its parameters (users'
        questions and answers), which must not reach a client; the cause keeps them for
        the server's log.
        """
        lines = str(getattr(exc, "orig", None) or exc).splitlines()
        return cls(f"{doing}: {lines[0][:200] if lines else type(exc).__name__}")


class InvalidInputError(AdvisorError):
    """The caller's input is unusable (empty question, too long, bad id)."""

    code = "invalid-input"


class EmptyQuestionError(InvalidInputError):
    """The question is empty once whitespace and control characters are removed."""

    code = "empty-question"


class QuestionTooLongError(InvalidInputError):
    """The question is longer than the limit."""

    code = "question-too-long"


class InvalidConversationIdError(InvalidInputError):
    """A conversation id is not of the accepted form."""

    code = "invalid-conversation-id"


class EmptyPlanError(InvalidInputError):
    """The plan to review is empty."""

    code = "empty-plan"


class PlanTooShortError(InvalidInputError):
    """The plan is too short to review (a sentence or two is a question, not a plan)."""

    code = "plan-too-short"


class PlanNotEnglishError(InvalidInputError):
    """The plan reads as another language; plan review reads English plans only."""

    code = "plan-not-english"


class NotAPlanError(InvalidInputError):
    """The text does not read as a CRM plan (a recipe, an itinerary, a lease clause)."""

    code = "not-a-crm-plan"


class PlanTooLongError(InvalidInputError):
    """The plan is longer than the limit."""

    code = "plan-too-long"


class ConversationNotFoundError(AdvisorError):
    """No conversation has the given id."""

    code = "conversation-not-found"


class TurnNotFoundError(AdvisorError):
    """The conversation exists but has no turn with that number."""

    code = "turn-not-found"


class DocumentError(InvalidInputError):
    """A file given to the knowledge base cannot be added (named, with the reason)."""

    code = "bad-document"


class DocumentNotFoundError(AdvisorError):
    """No added document has the given id."""

    code = "document-not-found"
