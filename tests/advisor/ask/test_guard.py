"""The guard's sentence cutting and verdicts, against the real embedding model."""

from __future__ import annotations

import re

import pytest

from advisor.ask.grounding import SupportChecker
from advisor.ask.guard import FLAG, Guard, SentenceSplitter, declined, is_filler

PASSAGES = {
    1: "Two primary reasons that so many CRM projects fail are poor data quality and lack "
    "of proper system integration.",
    2: "Pilot the system with one team before rolling it out to the whole company.",
}
TEXT = (
    "CRM projects often fail because of poor data quality and a lack of system integration. [1] "
    "Pilot the system with one team first [2]. Then roll it out.\n- Budget comes last! [1][2]"
)


def sentences_of(pieces: list[str]) -> list[str]:
    splitter = SentenceSplitter()
    out = [s for p in pieces for s in splitter.feed(p)]
    return out + splitter.flush()


def test_a_stream_is_cut_into_the_same_sentences_however_it_arrives() -> None:
    whole = sentences_of([TEXT])
    words = re.findall(r"\S+\s*", TEXT)
    assert whole == sentences_of(list(TEXT)) == sentences_of(words)
    assert whole == [
        "CRM projects often fail because of poor data quality and a lack of system "
        "integration. [1]",
        "Pilot the system with one team first [2].",
        "Then roll it out.",
        "Budget comes last! [1][2]",
    ]


@pytest.fixture
def guard(embedder) -> Guard:  # type: ignore[no-untyped-def]
    return Guard(SupportChecker(embedder, threshold=0.7), "remove", 0.5)


def test_markers_are_read_wherever_they_stand(guard: Guard) -> None:
    checked = guard.check("Pilot the system with one team first [2].", PASSAGES)
    assert checked.text == "Pilot the system with one team first." and checked.cited == [2]
    assert checked.supported and checked.display().endswith("first. [2]")
    both = guard.check("Poor data quality sinks CRM projects [1, 7].", PASSAGES)
    assert both.cited == [1] and both.dropped == [7]


def test_an_uncited_or_invented_sentence_is_unsupported(guard: Guard) -> None:
    assert not guard.check("Pilot the system with one team first.", PASSAGES).supported
    assert not guard.check("CRM projects fail because of sunspots. [1]", PASSAGES).supported
    report = guard.report()
    assert (report.sentences, report.supported, report.removed) == (2, 0, 2)
    assert guard.too_little().startswith("none of the 2 sentences")


def test_flag_and_off_modes(embedder) -> None:  # type: ignore[no-untyped-def]
    checker = SupportChecker(embedder, threshold=0.7)
    flag = Guard(checker, "flag", 0.5)
    shown = flag.show(flag.check("Vendors are to blame. [1]", PASSAGES))
    assert shown == FLAG + "Vendors are to blame. [1]" and flag.report().flagged == 1
    off = Guard(checker, "off", 0.5)
    checked = off.check("Vendors are to blame. [9]", PASSAGES)
    assert off.show(checked) == "Vendors are to blame. [9]" and not off.report().stepped_in
    assert off.too_little() == ""


def test_fillers_and_declines_are_recognised() -> None:
    assert is_filler("Here is what the passages say:") and is_filler("---") and is_filler("[1]")
    assert not is_filler("Pilot the system with one team first. [2]")
    assert declined("NOT IN SOURCES") and declined("Sorry, that is not in the sources.")
    assert not declined("Pilot first. " * 10 + "Not in sources.")


def test_an_absurdly_long_marker_is_text_not_a_crash(guard: Guard) -> None:
    """A 5,000-digit "[n]" from a model is no citation, and checking it does not raise."""
    checked = guard.check("CRM projects fail for many reasons [" + "9" * 5000 + "].", {})
    assert not checked.cited
