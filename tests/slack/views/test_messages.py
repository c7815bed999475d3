"""Messages outside the card: announcement, help, history, errors, updates, notification text."""

from __future__ import annotations

from bot.slack import views as v
from tests.slack.views.support import FAILED, INFO, NOW, V123, V124, V125, assert_valid, mrkdwn_text, with_run


def test_announcement_is_short_and_links_the_channel():
    blocks = v.announcement(INFO)
    assert_valid(blocks)
    assert len(blocks) <= 3
    text = mrkdwn_text(blocks)
    assert "*INC-2026-001 · shopping-service*" in text and "<#C0INC1>" in text and "High" in text
    assert "Rolling back to rev 2" in mrkdwn_text(v.announcement(with_run("running")))


def test_help_lists_every_command():
    blocks = v.help_blocks()
    assert_valid(blocks)
    text = mrkdwn_text(blocks)
    for command in (
        "/rollback &lt;service&gt; [reason]",
        "`/rollback`",
        "/rollback status",
        "/rollback history &lt;service&gt;",
        "/rollback config &lt;service&gt;",
        "/rollback resolve",
        "/rollback help",
    ):
        assert command in text
    assert "Add `--data-loss` or `--security-breach` when declaring" in text
    assert "the incident becomes Critical (roll back immediately)" in text


def test_history_is_newest_first_and_marks_the_live_revision():
    blocks = v.history_blocks("shopping-service", [V123, V125, V124], now=NOW)
    assert_valid(blocks)
    lines = blocks[1]["text"]["text"].splitlines()
    assert lines[0].startswith("rev 3 · `v1.2.5`") and lines[0].endswith("*← live*")
    assert lines[2].startswith("rev 1 ") and "3 days ago" in lines[2]
    assert "No rollout history found" in mrkdwn_text(v.history_blocks("nope", []))


def test_error_blocks_say_what_to_do():
    blocks = v.error_blocks("Unknown service", "`shoping` is not in the catalog.", "Try `/rollback status`.")
    assert_valid(blocks)
    assert "*What you can do:* Try `/rollback status`." in mrkdwn_text(blocks)


def test_fallback_text_is_plain():
    text = v.fallback_text(INFO)
    assert text.startswith("INC-2026-001 · shopping-service (High): ")
    assert ":" + "mag:" not in text and "`" not in text
    assert v.fallback_text(FAILED).startswith("VERIFICATION FAILED")


def test_status_update_blocks_split_long_text():
    blocks = v.status_update_blocks("x" * 7000)
    assert_valid(blocks)
    assert len(blocks) == 3



def test_config_versions_show_value_diffs_for_a_configmap_and_key_names_for_a_secret():
    import datetime as dt

    from bot.state.config_versions import ConfigHistory, VersionEntry

    at = dt.datetime(2026, 12, 3, 7, 35, tzinfo=dt.UTC)
    cm = ConfigHistory(
        "ConfigMap",
        "pricing-config",
        (
            VersionEntry(1, at, "kubectl-client-side-apply", ()),
            VersionEntry(2, at, "kubectl-edit", ('PRICE_SOURCE: "catalog-api" → "legacy-api"',)),
        ),
    )
    versions = (VersionEntry(1, at, "", ()), VersionEntry(2, at, "", ("changed: token",)))
    secret = ConfigHistory("Secret", "pricing-credentials", versions)
    blocks = v.config_history_blocks("pricing", [cm, secret], "config")
    assert_valid(blocks)
    text = mrkdwn_text(blocks)
    live = "*v2* · <!date^1796283300^{date_num} {time}|2026-12-03 07:35 UTC> by `kubectl-edit`  *← live*"
    assert f'{live}\n   PRICE_SOURCE: "catalog-api" → "legacy-api"' in text
    assert "*Secret pricing-credentials* (key names only: values are never stored or shown)" in text
    assert "changed: token" in text and "Choose revision…" in text
    other = mrkdwn_text(v.config_history_blocks("shopping-service", [cm], "kubernetes"))
    assert "rolls back with the `kubernetes` strategy" in other
    assert "reads no ConfigMap or Secret" in mrkdwn_text(v.config_history_blocks("cart", [], "kubernetes"))
