"""Input checks, in one place: every front door hands user text to these before use.

Questions, plans, conversation ids, feedback, document titles and tags, and the
instruction-like phrases cut from a question are checked here, so the CLI, HTTP and Slack
refuse the same input the same way.
Each check returns the cleaned value or raises an ``InvalidInputError`` subclass.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from advisor.errors import (
    EmptyPlanError,
    EmptyQuestionError,
    InvalidConversationIdError,
    InvalidInputError,
    PlanNotEnglishError,
    PlanTooLongError,
    PlanTooShortError,
    QuestionTooLongError,
)

MAX_QUESTION_CHARS = 4000
MAX_PLAN_CHARS = 20_000
MIN_PLAN_WORDS = 12
MAX_COMMENT_CHARS = 2000
RATINGS = ("up", "down")
CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
"""What a conversation id may look like (published in the API's schema)."""

# Instructions aimed at a model, not questions about CRM; cut from the search query so
# that an injected command neither steers retrieval nor passes the relevance gate.
_INJECTION = re.compile(
    r"(?i)\b(ignore|disregard|forget|override)\b[^.?!]*\b(instruction|prompt|rule|above|previous)"
    r"s?\b[^.?!]*[.?!]?"
    r"|\b(you are now|you are no longer|act as|pretend to be|system prompt|developer mode|"
    r"new instructions|from now on)\b[^.?!]*[.?!]?"
    r"|\b(print|reveal|say|output|repeat|reply|respond)\b[^.?!]*\b(pwned|system prompt|"
    r"instructions|password|secret|only with)\b[^.?!]*[.?!]?"
    r"|\b(start|begin|end|finish)\s+(your|the)\s+(answer|reply|response)\b[^.?!]*[.?!]?"
    r"|\b(call(ing)?\s+me|insult)\b[^.?!]*[.?!]?"
    r"|\bwrite\s+(an?\s+)?(email|message|letter|poem|story|code)\b[^.?!]*[.?!]?"
    r"|</?[a-z_]+>|^\s*(system|assistant|admin(istrator)?)\s*:"
)

# Line breaks as Word, old Macs and Unicode write them; all become "\n".
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")


def printable(value: object, what: str) -> str:
    """User text with line breaks unified and format characters dropped; else InvalidInputError.

    Control characters (NUL, escape sequences, bell...) and lone surrogates are refused,
    not silently dropped, so that a client sending binary or mis-decoded text learns of it.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"the {what} must be a string")
    if "\x00" in value:
        raise InvalidInputError(f"the {what} contains a NUL byte")
    text = _LINE_BREAKS.sub("\n", value)
    kept: list[str] = []
    for ch in text:
        kind = unicodedata.category(ch)
        if kind == "Cc" and ch not in "\n\t":
            raise InvalidInputError(
                f"the {what} contains the control character U+{ord(ch):04X}; remove it"
            )
        if kind == "Cs":
            raise InvalidInputError(
                f"the {what} is not valid Unicode (a lone surrogate, U+{ord(ch):04X})"
            )
        if kind != "Cf":  # zero-width and bidi marks: invisible, and can disguise text
            kept.append(ch)
    return "".join(kept)


def clean_question(question: Any) -> str:
    """Validate and normalise a question, or raise InvalidInputError."""
    text = printable(question, "question")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise EmptyQuestionError("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionTooLongError(
            f"the question is {len(text)} characters; the limit is {MAX_QUESTION_CHARS}"
        )
    return text


def clean_plan(plan: object) -> str:
    """Validate a pasted plan and normalise its whitespace, or raise InvalidInputError."""
    text = printable(plan, "plan")
    text = re.sub(r"[ \t]+", " ", text)  # printable() has made every line break \n
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if not text:
        raise EmptyPlanError("the plan is empty")
    if len(text) > MAX_PLAN_CHARS:
        raise PlanTooLongError(f"the plan is {len(text)} characters; the limit is {MAX_PLAN_CHARS}")
    words = len(re.findall(r"[A-Za-z]{2,}", text))
    if words < MIN_PLAN_WORDS:
        raise PlanTooShortError(
            f"the plan has {words} word{'s' if words != 1 else ''}; paste at least "
            f"{MIN_PLAN_WORDS} words of the plan "
            "(its goals, scope, owner, budget and rollout), or ask a question instead"
        )
    _check_english(text)
    return text


# Common function words: English ones, and those of the languages a pasted plan is most
# likely to be in instead (Spanish, French, German, Portuguese, Italian, Dutch), leaving out
# words the languages share with English ("a", "in", "no", "die", "as").
_ENGLISH_WORDS = frozenset(
    "the and to of for is with we will be our by at this that it from are an or all its their "
    "not have has".split()
)
_OTHER_WORDS = frozenset(
    "de la el los las y que en para con por una un del se es lo al como más pero sus le les "
    "des et pour avec une du est dans sur pas nous qui au aux ce cette sont der das und für mit "
    "ist nicht wir ein eine zu auf im dem sich auch werden wird os e com uma não da em ao pelo "
    "pela são il di per che non della delle gli het en van voor met een niet wij zijn worden "
    "wordt".split()
)


def _check_english(text: str) -> None:
    """Raise PlanNotEnglishError when another language's function words outnumber English's.

    The classifier was trained on English sentences; a plan in Spanish would otherwise come
    back with no red flags and read as ready.
    """
    words = re.findall(r"[^\W\d_]+", text.lower())
    english = sum(w in _ENGLISH_WORDS for w in words)
    other = sum(w in _OTHER_WORDS for w in words)
    if other >= 3 and other > english:
        raise PlanNotEnglishError(
            "plan review reads plans written in English, and this one reads as another "
            "language; paste it in English"
        )


def check_conversation_id(conversation_id: str) -> str:
    """Return the id if it is well-formed, else raise InvalidInputError."""
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.fullmatch(conversation_id):
        raise InvalidConversationIdError(
            "conversation_id must be 1-128 characters: letters, digits and . _ : @ -"
        )
    return conversation_id


def clean_feedback(rating: object, comment: object | None) -> tuple[str, str | None]:
    """A rating (``up`` or ``down``) and its comment, cleaned; else InvalidInputError."""
    if rating not in RATINGS:
        raise InvalidInputError("rating must be 'up' or 'down'")
    text: str | None = None
    if comment is not None:
        text = printable(comment, "comment").strip() or None
        if text and len(text) > MAX_COMMENT_CHARS:
            raise InvalidInputError(f"the comment is over {MAX_COMMENT_CHARS} characters")
    return str(rating), text


def strip_injection(question: str) -> tuple[str, bool]:
    """Remove instruction-like phrases from a question; say whether any were found."""
    cleaned = _INJECTION.sub(" ", question)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return cleaned, cleaned != re.sub(r"\s+", " ", question).strip()


MAX_TITLE_CHARS = 300
MAX_TAGS, MAX_TAG_CHARS = 20, 50


def clean_label(value: object, what: str, limit: int) -> str:
    """A one-line label (a document's title, a tag): printable, not blank, at most ``limit``
    characters, no line breaks; else InvalidInputError naming ``what``."""
    text = printable(value, what).strip()
    if not text:
        raise InvalidInputError(f"the {what} is blank")
    if "\n" in text or "\t" in text:
        raise InvalidInputError(f"the {what} must be one line")
    if len(text) > limit:
        raise InvalidInputError(f"the {what} is {len(text)} characters; the limit is {limit}")
    return text


def clean_tags(tags: list[Any]) -> list[str]:
    """Up to ``MAX_TAGS`` tags, each a clean label; duplicates dropped, order kept."""
    if len(tags) > MAX_TAGS:
        raise InvalidInputError(f"{len(tags)} tags; the limit is {MAX_TAGS}")
    return list(dict.fromkeys(clean_label(t, "tag", MAX_TAG_CHARS) for t in tags))
