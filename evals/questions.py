"""Answers that answer: the question groups in ``evals/questions/`` (dev and held-out).

Each answerable case has a question type, the expected articles, key points and, for direct
questions (yes/no, choice, who, how many), the terms the first sentence must contain. The
metrics, per split (``ask_dev_*`` and ``ask_heldout_*``) and per question type:

- lead accuracy: the answer's first cited sentence contains one of the case's lead terms;
- wrong stance and right stance: of the yes/no questions labelled with a stance, the share
  whose first sentence opens with the opposite verdict ("No: …" where the sources say yes),
  and with the labelled one;
- article hit@5: an expected article is among the first five documents retrieved (notes
  and answer entries count as documents, so advice can crowd the evidence out);
- articles cited: answered questions whose answer cites at least one article;
- key-point coverage and context precision (a passage is relevant when it is an expected
  article, or advice whose ``sources`` name one), as for the golden set;
- false refusals: answerable questions refused;
- small talk, noise and other-language turns handled: the reply has no citations, and noise
  never replays the previous answer; a follow-up after them still resolves;
- uncovered: a question naming what the sources lack is refused or told so;
- kept mid-thread: a question asked after an unrelated one in the same conversation (as
  in a Slack thread) gets the same first sentence, or the same refusal, as asked alone:
  a question that stands on its own is not read as a follow-up.

Held-out cases are never tuned on; the dev cases may be studied.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from advisor import Advisor, Answer, cited_sentences
from evals import metrics as m

QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
SPLITS = ("dev", "heldout")
DIRECT = ("yes_no", "choice", "who", "how_many")
REAL_QUESTION = "Why do CRM projects fail?"  # asked before each non-question turn
UNRELATED_QUESTION = "How should we measure whether our CRM is paying off?"  # ditto, mid-thread


def load_split(split: str, folder: Path = QUESTIONS_DIR) -> list[dict[str, Any]]:
    """The cases of one split; raises ValueError on a malformed file."""
    data = yaml.safe_load((folder / f"{split}.yaml").read_text(encoding="utf-8"))
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, list) or not cases:
        raise ValueError(f"{split}.yaml has no cases")
    return cases


def _norm(text: str) -> str:
    text = text.lower().replace("%", " percent").replace("’", "'")
    return " ".join(re.findall(r"[a-z0-9']+", text))


def lead_ok(answer: Answer, terms: list[str]) -> bool:
    """True when the first cited sentence contains one of the lead terms (word-bounded)."""
    sentences = cited_sentences(answer.answer) if answer.answered else []
    if not sentences:
        return False
    first = f" {_norm(sentences[0][0])} "
    return any(f" {_norm(t)} " in first for t in terms if _norm(t))


_OPPOSITE = {"yes": "no", "no": "yes"}
_VERDICT = re.compile(r"^\W*(?:(?:mostly|largely|generally|usually) )?(yes|no)\b", re.I)


def stance_of(answer: Answer) -> str:
    """The verdict the first cited sentence opens with ("yes", "no"), or "" for none."""
    sentences = cited_sentences(answer.answer) if answer.answered else []
    found = _VERDICT.match(sentences[0][0]) if sentences else None
    return found.group(1).lower() if found else ""


def _relevant(hit: Any, expected: set[str]) -> bool:
    sources = set(str(hit.passage.meta.get("sources", "")).split(","))
    return hit.passage.doc_id in expected or bool(sources & expected)


class QuestionRun:
    """Collects one split's figures as its cases are asked."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor
        self.values: dict[str, list[float]] = defaultdict(list)
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, value: float, qtype: str = "") -> None:
        self.values[name].append(value)
        if qtype:
            self.values[f"{name}:{qtype}"].append(value)

    def turn(self, item: dict[str, Any], cid: str | None) -> Answer:
        """Ask one answerable question (alone or as a turn) and record its figures."""
        answer = self.advisor.ask(item["question"], cid)
        qtype = str(item.get("qtype", "other"))
        expected = set(item.get("expected_docs") or [])
        self.add("false_refusal", 0.0 if answer.answered else 1.0, qtype)
        self.add("question_type_accuracy", float(answer.question_type == qtype), qtype)
        if item.get("lead_terms") and qtype in DIRECT:
            self.add("lead_accuracy", float(lead_ok(answer, item["lead_terms"])), qtype)
        if item.get("stance") in ("yes", "no"):
            stance = stance_of(answer)
            self.add("wrong_stance", float(stance == _OPPOSITE[item["stance"]]))
            self.add("right_stance", float(stance == item["stance"]))
        result = self.advisor.searcher.search(answer.standalone_question)
        hits = [h for h in result.hits if not h.fetched]
        hits = sorted(hits, key=lambda h: -h.fused) + [h for h in result.hits if h.fetched]
        if expected:
            ranking = m.doc_ranking([h.passage.doc_id for h in hits])
            self.add("article_hit_at_5", m.hit_at(ranking, expected, 5), qtype)
            self.add(
                "context_precision", m.context_precision([_relevant(h, expected) for h in hits])
            )
        if answer.answered:
            kinds = {c.kind for c in answer.citations}
            self.add("articles_cited", float("article" in kinds), qtype)
            points = item.get("key_points") or []
            if points:
                cover = [float(m.key_point_covered(answer.answer, p)) for p in points]
                self.add("key_point_coverage", sum(cover) / len(cover), qtype)
        self.rows.append(
            {"id": item.get("id", ""), "qtype": qtype, "answered": answer.answered,
             "lead": cited_sentences(answer.answer)[0][0] if answer.answered else ""}
        )  # fmt: skip
        return answer

    def reply(self, case: dict[str, Any]) -> None:
        """A non-question turn after a real question, then a follow-up that must still resolve."""
        first = self.advisor.ask(REAL_QUESTION)
        cid = first.conversation_id
        answer = self.advisor.ask(case["question"], cid)
        wanted = {"smalltalk": "smalltalk", "junk": "noise", "other_language": "other_language"}
        ok = answer.intent == wanted[case["type"]] and not answer.citations
        ok = ok and answer.answer != first.answer
        if case["type"] == "other_language":
            from advisor import LANGUAGES

            ok = ok and LANGUAGES.get(str(case.get("language")), "\0") in answer.answer
        self.add(f"{case['type']}_handled", float(ok))
        follow = self.advisor.ask("And who should own it?", cid)
        self.add("follow_up_after_reply", float(REAL_QUESTION in follow.standalone_question))

    def uncovered(self, case: dict[str, Any]) -> None:
        answer = self.advisor.ask(case["question"])
        self.add("uncovered_handled", float(not answer.answered or bool(answer.uncovered)))

    def mid_thread(self, item: dict[str, Any], alone: Answer, thread: str) -> None:
        """Ask the question again after an unrelated one (``thread``); record if it kept its
        first sentence (or its refusal)."""
        again = self.advisor.ask(item["question"], thread)
        lead = cited_sentences(alone.answer)[:1] if alone.answered else []
        kept = alone.answered == again.answered
        kept = kept and lead == (cited_sentences(again.answer)[:1] if again.answered else [])
        self.add("kept_mid_thread", float(kept), str(item.get("qtype", "other")))


def evaluate_split(advisor: Advisor, split: str) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The ``ask_<split>_*`` metrics of one split, and its per-case rows."""
    run = QuestionRun(advisor)
    for case in load_split(split):
        kind = case["type"]
        if kind == "answerable":
            alone = run.turn(case, None)
            thread = advisor.ask(UNRELATED_QUESTION).conversation_id
            run.mid_thread(case, alone, thread)
        elif kind == "multi_turn":
            cid = None
            for item in case["turns"]:
                cid = run.turn({**item, "id": case["id"]}, cid).conversation_id
        elif kind in ("smalltalk", "junk", "other_language"):
            run.reply(case)
        elif kind == "uncovered":
            run.uncovered(case)
    metrics = {f"ask_{split}_{k}": sum(v) / len(v) for k, v in run.values.items() if v}
    metrics[f"ask_{split}_questions"] = float(len(run.rows))
    return metrics, run.rows


def evaluate_questions(advisor: Advisor) -> tuple[dict[str, float], dict[str, Any]]:
    """Both splits' metrics, and their rows by split."""
    metrics: dict[str, float] = {}
    rows: dict[str, Any] = {}
    for split in SPLITS:
        found, rows[split] = evaluate_split(advisor, split)
        metrics.update(found)
    return metrics, rows
