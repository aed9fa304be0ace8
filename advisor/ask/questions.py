"""Follow-ups: tell them apart, and turn them into standalone queries."""

from __future__ import annotations

import re

from advisor.contract import Turn
from advisor.text import content_terms

_ANAPHOR = re.compile(
    r"(?i)\b(that|this|it|its|they|them|their|those|these|he|she|him|her|there|such|"
    r"the same|the former|the latter)\b"
)
_CONTINUATION = re.compile(r"(?i)^\s*(and|or|but|so|also|what about|how about|then|why not)\b")
_CONTEXT = re.compile(r"\s*\((?:following on from|about): .*\)$")  # what condense adds
# "What is a CRMO?", "who is Alf Saggese?": short, but the subject is named, not pointed to.
_NAMES_ITS_SUBJECT = re.compile(
    r"(?i)^\W*(what|who)\s*(is|are|was|were|'s|’s|does)\s+(?:(?:a|an|the)\s+)?"
    r"(?!(it|its|that|this|they|them|those|these|he|she|there|the same)\b)[\w-]{2,}"
)
# "is it fine to…", "is it worth…": an "it" that stands for what follows, not for anything said
_EXPLETIVE = re.compile(r"(?i)it\s+(?:\w+\s+){0,2}?(?:to|worth|that|if|whether)\b")
OWN_ANTECEDENT = 3  # content words before a pronoun that give it something to point to
_QUESTION_WORDS = frozenset("what why how who whom which when where does do is are can".split())


def is_follow_up(question: str) -> bool:
    """True when a question leans on earlier turns: it opens as a continuation ("and…",
    "what about…"), has few words of its own, or has a pronoun with nothing before it in
    the question to point back to.

    A pronoun after ``OWN_ANTECEDENT`` content words of the same question points into it
    ("is cleaning up our data worth it, or is that overkill?"), "IT" is a department, and a
    short question that names its subject ("What is a CRMO?") stands on its own.
    """
    if _CONTINUATION.match(question):
        return True
    if len(content_terms(question)) <= 2 and not _NAMES_ITS_SUBJECT.match(question):
        return True
    for found in _ANAPHOR.finditer(question):
        if found.group(0) == "IT" or _EXPLETIVE.match(question, found.start()):
            continue
        if len(content_terms(question[: found.start()])) < OWN_ANTECEDENT:
            return True
    return False


def condense(question: str, history: list[Turn]) -> str:
    """Rewrite a follow-up into a standalone question that reads as one.

    The earlier question is named after the follow-up ("Who usually gets that job?
    (following on from: What is a CRMO?)"), so the manager can read what was searched and
    retrieval sees both. Only turns that asked a real question and got an answer count as
    the earlier one.
    """
    # A refused question found nothing to follow on from: the earlier one is the last
    # question that was answered.
    asked = [
        t
        for t in history
        if getattr(t.answer, "intent", "question") == "question"
        and getattr(t.answer, "answered", True)
    ]
    if not asked or not is_follow_up(question):
        return question
    previous = _root(asked[-1])
    if not content_terms(previous) or previous.strip().lower() == question.strip().lower():
        return question  # asked again: nothing earlier to follow on from
    return f"{question} (following on from: {previous})"


def _root(turn: Turn) -> str:
    """The question a turn asked, without the context an earlier follow-up added."""
    standalone = turn.standalone_question or turn.question
    return _CONTEXT.sub("", standalone) or turn.question


# The question's form decides what the first sentence must give: a stance, the option
# chosen, a role, a figure, a definition, a reason, a first step or the items of a list.
# Each rule reads the question's own sentence, from the start of one of its clauses; the
# rules are columns of the learned reader in ``advisor.ask.qtypes``, not the decision.
_START = r"(?i)(?:^|[,;:])[\W_]*"
_QTYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("how_many", re.compile(
        r"(?i)\b(how (many|much|long|often|big|likely)|what (share|percentage|proportion|"
        r"percent|fraction|portion|number|figure|rate)|what %|how high)\b")),
    ("how_to", re.compile(
        _START + r"(how (do|should|can|could|would|to|might|does one)|what (should|can|could|do)"
        r" (we|i|you) (actually )?(do|change|try)|what steps|any (tips|advice)|tips?\b)")),
    ("who", re.compile(
        _START + r"(who|whom|whose)\b|\b(which|what) (role|person|people|team|department|"
        r"executive|function|job title|manager)s?\b")),
    ("choice", re.compile(r"(?i)\b(or|versus|vs\.?)\b[^?]*\?|\bwhich (is|one|option|approach)\b"
                          r"|\bwhich of\b")),
    ("why", re.compile(
        _START + r"(why|how come)\b|\bwhat (causes|caused|makes)\b|\breasons? why\b")),
    ("list", re.compile(
        r"(?i)\b(what are the|list|name the|give me the|which (factors|reasons|steps|phases|"
        r"signs|mistakes|things)|what (factors|phases|stages|steps|signs|mistakes|benefits|"
        r"do we need))\b")),
    ("definition", re.compile(
        _START + r"(what('s| is| are| does)|define|meaning of|explain)\b[^?]{0,60}\??$|"
        r"\bwhat (do|does) (they|it|that|this|the \w+) mean\b|\bwhat's that about\b")),
    ("yes_no", re.compile(
        _START + r"(is|are|do|does|did|can|could|should|would|will|has|have|was|were|must|"
        r"may|shall|isn't|aren't|don't|doesn't|shouldn't|wouldn't|won't)\b|"
        r"\b(good|bad|smart|wise|sensible) (idea|move|plan)\b|\bright\?$")),
)  # fmt: skip
QUESTION_TYPES = (*(name for name, _ in _QTYPES), "other")
_REMEDY = re.compile(r"(?i)\b(instead|fix|solve|avoid|prevent|do about|better way|alternative)")


def asks_for_remedy(question: str, qtype: str) -> bool:
    """True when a follow-up on a finding asks what to do, not what the finding means.

    "How should we roll it out?" and "who should run it instead?" want the safeguard;
    "why is that a problem?" wants the finding itself.
    """
    return qtype in ("how_to", "who") or bool(_REMEDY.search(question))


_FILLER = re.compile(r"(?i)^\W*(honestly|so|ok|okay|and|but|well|in a nutshell|quick one)\b[,\s]*")


def asking_sentence(question: str) -> str:
    """The sentence that asks: the last one with a question mark, or the last one."""
    parts = [p for p in re.split(r"(?<=[.?!:])\s+", question.strip()) if p]
    return next((p for p in reversed(parts) if p.endswith("?")), parts[-1] if parts else "")


def asked_text(question: str) -> str:
    """The asking sentence without opening filler or the context a follow-up was given."""
    bare = _CONTEXT.sub("", question.strip())
    return _FILLER.sub("", asking_sentence(bare)).strip()


def rule_matches(asked: str) -> list[float]:
    """One column per hand-written rule of ``_QTYPES``: 1.0 when it matches ``asked``.

    The rules are cues for ``advisor.ask.qtypes.QuestionTyper``, which weighs them with the
    sentence's vector and words; on their own they were fitted to the development questions.
    """
    return [1.0 if rule.search(asked) else 0.0 for _, rule in _QTYPES]


# "…, or is that overkill?", "…or not?": the "or" asks for a verdict on one course, not a pick
# between two; what follows it is no second option.
_VERDICT_OR = re.compile(
    r"(?i)\bor\s+(not|no|(is|was|would|will|does|did|could)\s+(that|it|this)|am\s+i|"
    r"are\s+we|is\s+there|something|anything|what)\b"
)
_GENERIC = frozenset({"crm"})  # in nearly every question and every sentence: tells no option
_OPTION_WORDS = 6  # words read on each side of the "or" as the option it names


def choice_options(question: str) -> tuple[set[str], set[str]] | None:
    """The two options a choice question names, as stemmed content terms that only one of
    them holds ("a technology problem or a business problem?" gives {technolog} and
    {business}), or None when it names no two options (no "or", or a verdict-seeking "or
    not" / "or is that overkill")."""
    asked = asked_text(question)
    if _VERDICT_OR.search(asked):
        return None
    parts = re.split(r"(?i)\s+or\s+", asked)
    if len(parts) < 2:
        return None
    before = re.split(r"[,:;–—-]\s|\bbetween\b", parts[-2])[-1].split()[-_OPTION_WORDS:]
    after = re.split(r"[,;?.!]", parts[-1])[0].split()[:_OPTION_WORDS]
    left, right = set(content_terms(" ".join(before))), set(content_terms(" ".join(after)))
    left, right = left - right - _GENERIC, right - left - _GENERIC
    return (left, right) if left and right else None
