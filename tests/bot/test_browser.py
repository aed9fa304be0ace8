"""The chat page in headless Debian Chromium, driven by Playwright, against a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from advisor.facade import Advisor
from advisor.memory import SQLConversationStore
from tests.bot.conftest import Serve

CHROMIUM = os.environ.get("ADVISOR_TEST_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium keeps reaching for Google's hosts, which this network refuses.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Records every change to a streaming answer, to show text arrived in pieces.
WATCH_STREAM = """
window.__streamed = [];
new MutationObserver((records) => {
  for (const r of records) {
    const box = r.target.closest ? r.target.closest('.stream') : null;
    if (box) window.__streamed.push(box.textContent.length);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module."""
    if not os.path.exists(CHROMIUM):
        # `make test` sets ADVISOR_REQUIRE_BROWSER_TESTS when it can install Chromium (root).
        why = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
        if os.environ.get("ADVISOR_REQUIRE_BROWSER_TESTS"):
            pytest.fail(why)
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def ask(page, question: str, n: int) -> object:  # type: ignore[no-untyped-def]
    """Type a question, send it, and wait for the n-th finished answer."""
    page.fill("#question", question)
    page.click("#send")
    answer = page.locator(".msg.advisor").nth(n - 1)
    answer.locator(".feedback").wait_for(timeout=30_000)
    return answer


def test_chat_page_end_to_end(browser, serve: Serve, advisor: Advisor, settings) -> None:  # type: ignore[no-untyped-def]
    with serve(advisor=advisor) as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.add_init_script(WATCH_STREAM)
        response = page.goto(url)
        assert "script-src 'self'" in response.headers["content-security-policy"]

        # First question: the answer streams in, with numbered citations.
        with page.expect_response("**/v1/ask/stream") as streamed:
            first = ask(page, "Why is our CRM plan too broad?", 1)
        assert streamed.value.headers["content-type"].startswith("text/event-stream")
        lengths = page.evaluate("window.__streamed")
        assert len(set(lengths)) > 2, f"the answer did not arrive in pieces: {lengths}"
        assert first.locator("h3.advice, h3.evidence").count() >= 1
        citations = first.locator("details.citation")
        assert citations.count() >= 2
        assert (
            first.locator(".badge.advice").count() + first.locator(".badge.evidence").count()
            == citations.count()
        )

        # A citation marker opens its quoted passage and source.
        marker = first.locator("a.cite").first
        number = marker.inner_text().strip("[]")
        marker.click()
        opened = first.locator(f"details.citation[id$='-{number}']")
        assert opened.get_attribute("open") is not None
        assert opened.locator("blockquote").is_visible()
        quotes = " ".join(first.locator("details.citation blockquote").all_text_contents())
        assert "boil the ocean" in quotes

        # A follow-up continues the same conversation.
        cid = page.evaluate("sessionStorage.getItem('crm-advisor:conversation')")
        second = ask(page, "How do we fix that?", 2)
        assert page.evaluate("sessionStorage.getItem('crm-advisor:conversation')") == cid
        assert second.locator("details.citation").count() >= 1
        turns = advisor.conversation(cid)
        assert [t.turn for t in turns] == [1, 2]
        assert "broad" in turns[1].standalone_question

        # Feedback on the follow-up is stored durably.
        second.locator(".feedback button[data-rating='up']").click()
        second.get_by_text("Thanks for the feedback.").wait_for()
        assert second.locator("button[data-rating='up']").get_attribute("aria-pressed") == "true"
        store = SQLConversationStore(settings.resolved_database_url)
        try:
            assert [(f.turn, f.rating) for f in store.feedback(cid)] == [(2, "up")]
        finally:
            store.close()

        # A question the corpus does not cover gets a clear notice.
        third = ask(page, "What is the capital of France?", 3)
        assert "Not covered by the sources" in third.inner_text()
        assert third.locator("details.citation").count() == 0

        # Markup in a question is shown as text, never run.
        sneaky = '<img src=x onerror="window.__pwned=1"><b>bold</b> why do CRM projects fail?'
        ask(page, sneaky, 4)
        assert page.locator(".msg.user").nth(3).inner_text() == sneaky
        assert page.locator("#log img, #log b").count() == 0
        assert page.evaluate("window.__pwned") is None

        # The conversation survives a reload.
        page.reload()
        page.locator(".msg.advisor").nth(3).wait_for()
        assert page.locator(".msg.user").count() == 4

        assert errors == []

        # When the server cannot be reached, the user is told and the question kept.
        page.route("**/v1/ask/stream", lambda route: route.abort("connectionrefused"))
        page.fill("#question", "Who should own the CRM project?")
        page.click("#send")
        page.locator(".msg.error").wait_for()
        assert "Can't reach the advisor server" in page.locator(".msg.error").inner_text()
        assert page.input_value("#question") == "Who should own the CRM project?"
        page.close()


def test_page_fits_a_phone(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True)
    page.goto(base_url)
    ask(page, "Who should own the CRM project?", 1)
    page.locator("details.citation").first.locator("summary").click()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways at phone width ({width}px)"
    assert page.locator("#send").is_visible()
    if os.environ.get("ADVISOR_SCREENSHOT"):  # for a human to look at
        page.screenshot(path=os.environ["ADVISOR_SCREENSHOT"], full_page=True)
    page.close()


def test_page_asks_for_a_key_when_one_is_needed(browser, serve: Serve) -> None:  # type: ignore[no-untyped-def]
    with serve(api_keys=[SecretStr("s3cret")]) as url:
        page = browser.new_page()
        page.goto(url)
        page.fill("#question", "Why do CRM projects fail?")
        page.click("#send")
        page.locator("#keybox").wait_for(state="visible")
        assert page.input_value("#question") == "Why do CRM projects fail?"
        page.fill("#key", "s3cret")
        page.click("#usekey")
        answer = ask(page, "Why do CRM projects fail?", 2)
        assert answer.locator("details.citation").count() >= 1
        page.close()

        # A key in the URL fragment is taken up and removed from the address bar.
        page = browser.new_page()
        page.goto(f"{url}/#key=s3cret")
        assert "s3cret" not in page.url
        assert ask(page, "Why do CRM projects fail?", 1).locator("details.citation").count() >= 1
        page.close()


def test_review_a_plan_view(browser, serve: Serve, advisor: Advisor) -> None:  # type: ignore[no-untyped-def]
    from tests.advisor.review.test_review import FLAWED

    with serve(advisor=advisor) as url:
        page = browser.new_page(viewport={"width": 900, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.click("#mode")
        assert page.locator("#review").is_visible() and not page.locator("#ask").is_visible()

        # Nothing pasted: told so, nothing sent. A non-plan: the server's reason, text kept.
        page.click("#reviewsend")
        assert "Paste your plan first" in page.inner_text("#status")
        page.fill("#plan", "Buy HubSpot now.")
        page.click("#reviewsend")
        page.locator(".msg.error").wait_for()
        assert "words" in page.locator(".msg.error").inner_text()
        assert page.input_value("#plan") == "Buy HubSpot now."

        # A real plan: findings with severities, the plan's own words, cited why and fix.
        page.fill("#plan", FLAWED)
        assert page.inner_text("#count").startswith(f"{len(FLAWED):,}")
        page.click("#reviewsend")
        review = page.locator(".msg.advisor").nth(1)
        review.locator(".finding").first.wait_for(timeout=30_000)
        assert "Readiness" in review.locator(".readiness").inner_text()
        it = review.locator(".finding[data-pattern='it_only_ownership']")
        assert it.locator(".sev").inner_text().lower() == "high"
        assert "IT department will lead" in it.locator("blockquote").first.inner_text()
        marker = it.locator("a.cite").first
        number = marker.inner_text().strip("[]")
        marker.click()
        assert (
            review.locator(f"details.citation[id$='-{number}']").get_attribute("open") is not None
        )
        assert "Net Promoter Score" in review.locator(".goal").inner_text()

        # The page is back in question mode; a follow-up discusses the review.
        assert page.locator("#ask").is_visible()
        page.fill("#question", "why is that too broad?")
        page.click("#send")
        follow = page.locator(".msg.advisor").nth(2)
        follow.locator(".feedback").wait_for(timeout=30_000)
        assert "On your plan's “Goals too broad” finding" in follow.inner_text()

        # After a reload the review is drawn again from the conversation.
        page.reload()
        page.locator(".finding").first.wait_for()
        assert (
            page.locator(".msg.user details summary")
            .first.inner_text()
            .startswith("Review this CRM plan")
        )
        assert errors == []
        page.close()


def test_the_page_shows_who_wrote_an_answer_and_replaces_a_withdrawn_draft(  # type: ignore[no-untyped-def]
    browser, serve: Serve, settings, embedder
) -> None:
    from advisor.text import split_sentences
    from tests.advisor.ask.fake_chat import ScriptedChat

    question = "Why do CRM projects fail?"
    hits = Advisor(settings, embedder=embedder).searcher.search(question).hits
    good = next(s for s in split_sentences(hits[0].passage.text) if len(s.split()) >= 8)
    supported = f"{good} [1]"
    withdrawn = f"{good} [1] CRM fails because of sunspots. [2] Vendors are to blame. [3]"
    chat = ScriptedChat(replies=[supported, withdrawn], delay=0.02)
    with serve(advisor=Advisor(settings, embedder=embedder, chat=chat)) as url:
        page = browser.new_page()
        page.add_init_script(WATCH_STREAM)
        page.goto(url)
        first = ask(page, question, 1)
        origin = first.locator(".provenance").inner_text()
        assert origin.startswith("Written by fake:scripted; every sentence checked")
        assert good in first.inner_text()
        second = ask(page, question, 2)
        text = second.inner_text()
        assert "Quoted from the sources" in second.locator(".provenance").inner_text()
        assert "sunspots" not in text and "What the sources say" in text
        # The withdrawn draft's passages list is replaced, not shown twice.
        assert second.locator(".sources").count() == 1
        page.close()
