"""The LLM answer writer: prompt, stream, guard, and give way to the extractive answer.

The writer never fails a user. A backend that errors, times out or is cooling down after a
failure, and an answer the guard finds too thin, all end in ``fallback`` with a reason; the
chain then gives the extractive answer. Failures are logged and counted in ``stats``.
"""

from __future__ import annotations

import html
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from advisor.ask.guard import Guard, SentenceSplitter, declined, is_filler
from advisor.ask.llm import describe
from advisor.ask.retrieval import Retrieval
from advisor.config import Settings
from advisor.contract import GuardReport, Review, Turn
from advisor.errors import LLMError
from advisor.inputs import strip_injection
from advisor.prompts import Prompts
from advisor.text import content_terms, split_sentences

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger("advisor.llm")
REDACTED = "[instruction-like text removed]"


@dataclass
class Written:
    """What the writer produced: guarded text and citations, or a reason to fall back."""

    text: str = ""
    cited: list[int] = field(default_factory=list)
    guard: GuardReport | None = None
    fallback: str = ""
    seconds: float = 0.0


@dataclass
class WriterEvent:
    """A piece of guarded text, a reset of what was streamed, or the finished result."""

    kind: str  # "delta", "reset" or "done"
    text: str = ""
    written: Written | None = None


def quote_passage(text: str) -> str:
    """A passage as prompt data: no tags of its own, instruction-like sentences cut out."""
    kept = [REDACTED if strip_injection(s)[1] else s for s in split_sentences(text)]
    # Escaped, so a passage can never close its <passage> tag and speak as the prompt.
    return html.escape(" ".join(kept), quote=False)


def _blocks(quoted: dict[int, str], titles: dict[int, str]) -> str:
    """Passages as numbered <passage> blocks of quoted data."""
    return "\n\n".join(
        f'<passage n="{n}" source="{html.escape(titles.get(n, ""))}">\n{text}\n</passage>'
        for n, text in quoted.items()
    )


class Stats:
    """Counters of LLM use, fallbacks by reason, and the guard's work; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        """Add n to a counter."""
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        with self._lock:
            return dict(sorted(self._counts.items()))


class LLMWriter:
    """Writes cited answers with a LangChain chat model, under the grounding guard."""

    def __init__(
        self, chat: BaseChatModel, guard: Guard, prompts: Prompts, settings: Settings
    ) -> None:
        self.chat = chat
        self.guard = guard
        self.prompts = prompts
        self.settings = settings
        self.name = describe(chat, settings.llm if settings.llm != "none" else None)
        self.stats = Stats()
        self._down_until = 0.0

    # -- the backend -------------------------------------------------------------------
    def cooling_down(self) -> float:
        """Seconds left before a failed backend is tried again (0 when it is in service)."""
        return max(0.0, self._down_until - time.monotonic())

    def tokens(self, messages: list[BaseMessage], deadline: float) -> Iterator[str]:
        """The model's text as it arrives; retries until the first token; LLMError past deadline.

        The backend runs in a worker thread, so that a server that hangs, trickles or never
        answers costs the user at most the deadline.
        """
        if self.cooling_down():
            self.stats.add("fallback_cooldown")
            wait = self.cooling_down()
            raise LLMError(f"the LLM backend failed recently; trying it again in {wait:.0f} s")
        pieces: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=self._pump, args=(messages, pieces, stop), daemon=True)
        thread.start()
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    kind, value = pieces.get(timeout=max(remaining, 0.0))
                except queue.Empty:
                    self._failed("timeout", f"no answer within {self.settings.llm_deadline:g} s")
                if kind == "token":
                    yield value
                elif kind == "end":
                    self._down_until = 0.0
                    return
                else:
                    self._failed("error", f"{type(value).__name__}: {value}")
        finally:
            stop.set()

    def _pump(
        self, messages: list[BaseMessage], out: queue.Queue[Any], stop: threading.Event
    ) -> None:
        s = self.settings
        for attempt in range(s.llm_max_retries + 1):
            started = False
            try:
                for chunk in self.chat.stream(messages):
                    if stop.is_set():
                        return
                    if chunk.text:
                        started = True
                        out.put(("token", chunk.text))
                out.put(("end", None))
                return
            except Exception as exc:  # every backend raises its own kinds
                if started or attempt == s.llm_max_retries or stop.is_set():
                    out.put(("error", exc))
                    return
                delay = s.llm_backoff * 2**attempt
                log.info("LLM request failed (%s); retry %d in %.1f s", exc, attempt + 1, delay)
                self.stats.add("retries")
                if stop.wait(delay):
                    return

    def _failed(self, reason: str, detail: str) -> NoReturn:
        self.stats.add(f"fallback_{reason}")
        self._down_until = time.monotonic() + self.settings.llm_cooldown
        log.warning("LLM backend %s failed (%s): %s", self.name, reason, detail)
        raise LLMError(f"the LLM backend did not answer ({reason})")

    def complete(self, messages: list[BaseMessage], seconds: float) -> str:
        """The model's whole reply to messages, within seconds."""
        return "".join(self.tokens(messages, time.monotonic() + seconds)).strip()

    # -- answers -----------------------------------------------------------------------
    def passages(self, retrieval: Retrieval) -> dict[int, str]:
        """The retrieved passages as the model sees them, numbered from 1 in rank order."""
        return {n: quote_passage(h.passage.text) for n, h in enumerate(retrieval.hits, start=1)}

    def answer_messages(self, question: str, retrieval: Retrieval) -> list[BaseMessage]:
        """System and user messages for one question over the retrieved passages."""
        quoted = self.passages(retrieval)
        titles = {n: str(h.passage.meta.get("title", "")) for n, h in enumerate(retrieval.hits, 1)}
        limit = self.settings.max_answer_sentences
        return self._messages(
            self.prompts.render("system", max_sentences=limit),
            self.prompts.render(
                "answer", passages=_blocks(quoted, titles), question=question, max_sentences=limit
            ),
        )

    def _messages(self, system: str, user: str) -> list[BaseMessage]:
        if self.settings.llm_system_role:
            return [SystemMessage(system), HumanMessage(user)]
        # Some chat templates (Gemma's) drop system messages: the rules go first in the turn.
        return [HumanMessage(f"{system}\n\n{user}")]

    def write(self, question: str, retrieval: Retrieval) -> Iterator[WriterEvent]:
        """Stream guarded sentences, then ``done``; a ``reset`` precedes a late fallback."""
        started = time.monotonic()
        self.stats.add("requests")
        guard = self.guard.fresh()
        passages = self.passages(retrieval)
        splitter = SentenceSplitter()
        shown = 0
        raw: list[str] = []

        def handle(sentences: list[str]) -> Iterator[WriterEvent]:
            nonlocal shown
            for sentence in sentences:
                raw.append(sentence)
                if is_filler(sentence) or declined(sentence):
                    continue
                text = guard.show(guard.check(sentence, passages))
                if text is not None:
                    yield WriterEvent("delta", (" " if shown else "") + text)
                    shown += 1

        limit = self.settings.max_answer_sentences
        try:
            messages = self.answer_messages(question, retrieval)
            for piece in self.tokens(messages, started + self.settings.llm_deadline):
                yield from handle(splitter.feed(piece))
                # Enough said, or a model that rambles: stop paying for tokens nobody sees.
                if shown >= limit or len(guard.checked) >= 3 * limit:
                    break
            else:
                yield from handle(splitter.flush())
        except Exception as exc:
            reason = str(exc)
            if not isinstance(exc, LLMError):
                # A fault of ours (a broken prompt file, say) must not cost the user an answer.
                log.exception("the LLM writer failed")
                self.stats.add("fallback_internal")
                reason = f"the LLM writer failed ({type(exc).__name__})"
            if shown:
                yield WriterEvent("reset")
            yield WriterEvent("done", written=self._finish(guard, started, fallback=reason))
            return
        reason = guard.too_little()
        if declined(" ".join(raw)) and not guard.checked:
            reason = "the model found no answer in the passages"
        if reason:
            self.stats.add("fallback_guard")
            if shown:
                yield WriterEvent("reset")
        text = " ".join(t for c in guard.checked if (t := guard.show(c)) is not None)
        written = self._finish(guard, started, fallback=reason, text="" if reason else text)
        yield WriterEvent("done", written=written)

    def _finish(self, guard: Guard, started: float, fallback: str, text: str = "") -> Written:
        report = guard.report() if guard.checked else None
        if report is not None:
            self.stats.add("sentences", report.sentences)
            self.stats.add("sentences_removed", report.removed)
            self.stats.add("sentences_flagged", report.flagged)
            if fallback:
                report = report.model_copy(update={"stepped_in": True})
        if text:
            self.stats.add("llm_answers")
        cited = list(dict.fromkeys(n for c in guard.checked if guard.show(c) for n in c.cited))
        return Written(
            text=text,
            cited=cited if text else [],
            guard=report,
            fallback=fallback,
            seconds=time.monotonic() - started,
        )

    # -- plan reviews ------------------------------------------------------------------
    def narrate(self, review: Review) -> tuple[str, GuardReport] | None:
        """A guarded narrative of a plan review, or None when the model fails or strays."""
        if not review.findings or not review.citations:
            return None
        try:
            return self._narrate(review)
        except LLMError:
            return None
        except Exception:
            log.exception("the LLM writer failed on a plan review")
            self.stats.add("fallback_internal")
            return None

    def _narrate(self, review: Review) -> tuple[str, GuardReport] | None:
        quoted = {c.n: quote_passage(c.quote) for c in review.citations}
        findings = "\n".join(
            f"- Red flag: {f.title} ({f.severity}): {f.why} What to do: {f.fix}"
            if f.basis == "shown"
            else f"- Open question: {f.question} ({f.title}): {f.why} What to do: {f.fix}"
            for f in review.findings[:5]
        )
        messages = self._messages(
            self.prompts.render("system", max_sentences=4),
            self.prompts.render(
                "review",
                readiness=review.readiness,
                verdict=review.verdict,
                findings=html.escape(findings, quote=False),
                passages=_blocks(quoted, {c.n: c.title for c in review.citations}),
                max_sentences=4,
            ),
        )
        self.stats.add("requests")
        reply = self.complete(messages, self.settings.llm_deadline)
        guard = self.guard.fresh()
        splitter = SentenceSplitter()
        for sentence in [*splitter.feed(reply), *splitter.flush()]:
            if not is_filler(sentence):
                guard.check(sentence, quoted)
        if guard.too_little():
            self.stats.add("fallback_guard")
            return None
        self.stats.add("llm_answers")
        text = " ".join(t for c in guard.checked if (t := guard.show(c)) is not None)
        return text, guard.report()

    # -- follow-ups --------------------------------------------------------------------
    def condense(self, question: str, history: list[Turn]) -> str | None:
        """The follow-up rewritten as a standalone question, or None to keep the rules' one."""
        try:
            return self._condense(question, history)
        except LLMError:
            return None
        except Exception:
            log.exception("the LLM writer failed to condense a follow-up")
            self.stats.add("fallback_internal")
            return None

    def _condense(self, question: str, history: list[Turn]) -> str | None:
        lines = []
        for turn in history[-3:]:
            lines.append(f"User: {html.escape(turn.question, quote=False)}")
            lines.append(f"Advisor: {html.escape(turn.answer.answer[:600], quote=False)}")
        prompt = self.prompts.render("condense", history="\n".join(lines), question=question)
        reply = self.complete([HumanMessage(prompt)], min(self.settings.llm_timeout, 15.0))
        rewrite = strip_injection(reply.splitlines()[0].strip(" \"'“”") if reply else "")[0]
        context = set(content_terms(question + " " + (history[-1].question if history else "")))
        # A rewrite that drifts off both the follow-up and the last question is worse than none.
        if not rewrite or len(rewrite) > 300 or not context & set(content_terms(rewrite)):
            self.stats.add("condense_rejected")
            return None
        return rewrite
