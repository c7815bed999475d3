"""User text made harmless and clipped to Slack limits on every surface."""

from __future__ import annotations

import dataclasses

from bot.slack import views as v
from tests.slack.views.support import INFO, NOW, V124, V125, assert_valid, elements, mrkdwn_text


def test_user_text_cannot_ping_or_link():
    nasty = "<!channel> & <@U0EVE> <https://evil.example|click>"
    info = dataclasses.replace(
        INFO,
        reason=nasty,
        service="shop<!here>",
        current=dataclasses.replace(V125, change_cause=nasty),
        declared_by="<!everyone>",
        run=v.RunInfo("failed", "U0BOB", (v.Step("Roll back", "failed", nasty),), error=nasty),
    )
    for blocks in (
        v.incident_card(info, now=NOW),
        v.announcement(info),
        v.status_blocks([info]),
        v.error_blocks(nasty, nasty, nasty),
        v.history_blocks(nasty, [info.current], now=NOW),
    ):
        assert_valid(blocks)
        text = mrkdwn_text(blocks)
        for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U0EVE>", "<https://"):
            assert raw not in text
        assert "&lt;!channel&gt; &amp; &lt;@U0EVE&gt;" in text or "&lt;!here&gt;" in text
    assert "<!channel>" not in v.fallback_text(info)


def test_long_text_is_clipped_with_an_ellipsis():
    long_cause = "deploy v9: " + "very long change cause " * 40
    rev = dataclasses.replace(V124, change_cause=long_cause)
    info = dataclasses.replace(INFO, reason="x" * 5000, target=rev, history=(V125, rev), service="s" * 200)
    blocks = v.incident_card(info, now=NOW)
    assert_valid(blocks)
    option = elements(blocks)[1]["options"][0]["text"]["text"]
    assert len(option) <= 75 and option.endswith("…") and option.startswith("rev 2 · v1.2.4 · deploy v9:")
    assert len(blocks[0]["text"]["text"]) == 150


def test_clip_never_cuts_an_escaped_entity():
    escaped = v.escape("a" * 8 + "&&&&")  # "aaaaaaaa&amp;&amp;..."
    for limit in range(9, 20):
        out = v.clip(escaped, limit)
        assert len(out) <= limit and out.endswith("…")
        assert not any(out[:-1].endswith(p) for p in ("&", "&a", "&am", "&amp"))



def test_a_time_in_slack_is_a_date_token_whose_fallback_and_markdown_are_utc():
    import datetime as dt

    at = dt.datetime(2026, 3, 1, 3, 59, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    token = v.date(at)
    assert token == f"<!date^{int(at.timestamp())}^{{time}}|01:59 UTC>"
    assert v.date(at, "{time_secs}", "%H:%M:%S UTC").endswith("|01:59:30 UTC>")
    assert v.undate(f"started at {token}, held") == "started at 01:59 UTC, held"
    assert v.undate("no token <@U1>") == "no token <@U1>"
