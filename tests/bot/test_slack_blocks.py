"""Block Kit formatting stays within Slack's limits and escapes text."""

from __future__ import annotations

from click.testing import CliRunner

from advisor.contract import Answer, Citation
from bot.cli import slack
from bot.slack_blocks import MAX_BLOCKS, MAX_TEXT, answer_blocks, escape, fallback_text


def citation(n: int) -> Citation:
    return Citation(
        n=n,
        doc_id=f"d{n}",
        title=f"Title <{n}> & co",
        kind="article",
        quote="q " * 400,
        score=0.5,
        author="A. Writer",
    )


def test_long_answers_fit_slacks_limits() -> None:
    lines = [f"- sentence {i} " + "word " * 60 + f"[{i % 60 + 1}]" for i in range(120)]
    answer = Answer(
        answer="What the sources say:\n" + "\n".join(lines),
        answered=True,
        conversation_id="c",
        citations=[citation(n) for n in range(1, 61)],
        turn=1,
    )
    blocks = answer_blocks(answer, shareable=True)
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_TEXT
    assert blocks[-1]["type"] == "actions"
    assert {e["action_id"] for e in blocks[-1]["elements"]} == {
        "feedback_up",
        "feedback_down",
        "share_answer",
    }
    assert len(fallback_text(answer)) <= 300


def test_text_is_escaped_for_mrkdwn() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    answer = Answer(
        answer="- Ping <!everyone> now [1]",
        answered=True,
        conversation_id="c",
        citations=[citation(1)],
        turn=1,
    )
    text = str(answer_blocks(answer))
    assert "<!everyone>" not in text and "&lt;!everyone&gt;" in text
    assert "Title &lt;1&gt; &amp; co" in text


def test_refusals_say_the_sources_do_not_cover_it() -> None:
    answer = Answer(answer="I can't answer that.", answered=False, conversation_id="c", turn=1)
    blocks = answer_blocks(answer)
    assert "don't cover" in blocks[0]["text"]["text"]
    assert not any("Sources" in str(b) for b in blocks)


def test_socket_mode_needs_an_app_token(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ADVISOR_SLACK_APP_TOKEN", raising=False)
    result = CliRunner().invoke(slack, ["--socket"])
    assert result.exit_code == 2 and "ADVISOR_SLACK_APP_TOKEN" in result.output
    plain = CliRunner().invoke(slack, [])
    assert plain.exit_code == 2 and "/slack/events" in plain.output


def test_the_manifest_asks_for_what_the_listeners_use() -> None:
    import yaml

    from bot.app import STATIC

    manifest = yaml.safe_load((STATIC.parent / "slack_manifest.yaml").read_text(encoding="utf-8"))
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels"} <= events
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/crm"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= scopes
    shortcuts = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert shortcuts["review_plan"]["type"] == "message"
    assert shortcuts["review_plan"]["name"] == "Review this CRM plan"
    # The assistant pane: its feature, its scope and both of its thread events.
    assert manifest["features"]["assistant_view"]["assistant_description"]
    assert "assistant:write" in scopes
    assert {"assistant_thread_started", "assistant_thread_context_changed"} <= events


def test_a_long_review_still_fits_slack(advisor) -> None:  # type: ignore[no-untyped-def]
    from bot.slack_blocks import MAX_BLOCKS, MAX_TEXT, review_blocks

    # A plan long enough that every finding quotes long evidence.
    sentence = "Our vision is to transform every customer relationship across all departments "
    plan = (sentence + "and every channel " * 40 + ". ") * 8
    blocks = review_blocks(advisor.review(plan[:20_000]), shareable=True)
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_TEXT for b in blocks if b["type"] == "section")
    assert blocks[-1]["type"] == "actions"


def test_a_review_shows_red_flags_then_open_questions_then_strengths(advisor) -> None:  # type: ignore[no-untyped-def]
    from bot.slack_blocks import review_blocks

    review = advisor.review(
        "All 40 branches move to the new CRM on one Monday in June, with no pilot. The sales "
        "director owns the programme and chairs a monthly steering group with IT as partner."
    )
    texts = [b["text"]["text"] for b in review_blocks(review) if b["type"] == "section"]
    joined = "\n".join(texts)
    assert review.red_flags and "All 40 branches move" in joined
    order = [joined.find(h) for h in ("Red flags", "Open questions", "Strengths")]
    present = [i for i in order if i >= 0]
    assert order[0] >= 0 and present == sorted(present)
    for f in review.open_questions:
        assert f.question in joined.replace("&amp;", "&")


def test_an_incoming_message_loses_ids_and_slack_markup() -> None:
    from bot.slack_blocks import incoming_question

    text = "<@UBOT> <@U2>, should <@U3|ana> or <@UBOT> own it for <#C7|sales-leads>? R&amp;D &lt;3"
    assert incoming_question(text, bot_user="UBOT") == (
        "should a colleague or own it for this channel? R&D <3"
    )
    assert incoming_question("<https://x.org|our plan> &gt; <!here>") == "our plan > @here"


def test_llm_markdown_becomes_mrkdwn_and_cannot_ping() -> None:
    from bot.slack_blocks import mrkdwn

    markdown = "## Owner\n**The sales director** owns it [1].\n- a *pilot* first\n- [note](https://x.org/a?b=1)"
    assert mrkdwn(markdown) == (
        "*Owner*\n\n*The sales director* owns it [1].\n\n• a _pilot_ first\n"
        "• <https://x.org/a?b=1|note>"
    )
    for raw in ("<!here>", "<!channel> now", "<@U1>", "<#C1|x>", "<script>", "a & b"):
        out = mrkdwn(raw)
        assert "<!" not in out and "<@" not in out and "<#" not in out and "<s" not in out
        assert "&amp;" in out or "&lt;" in out


def test_an_llm_answer_keeps_its_emphasis_in_slack() -> None:
    answer = Answer(
        answer="In short:\n**Start with one team** [1].\nWhat we advise:\n1. Pilot\n2. Expand",
        answered=True,
        conversation_id="c",
        citations=[citation(1)],
        turn=1,
    )
    text = answer_blocks(answer)[0]["text"]["text"]
    assert text.startswith("*In short:*\n*Start with one team* [1].\n*What we advise:*")
    assert "**" not in text and "1. Pilot" in text.replace("1.  ", "1. ")
