"""The incident state machine and permissions, as people in the channel meet them."""

from __future__ import annotations

import threading

from bot.incidents import decisions
from bot.incidents.actors import SlackUser
from bot.incidents.cards import incident_in_channel
from bot.incidents.resolve import postmortem_markdown
from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import LEAD, ONCALL, VIEWER
from bot.slack.views import RESOLVE_IMPACT, RESOLVE_ROOT_CAUSE, ActionId, ActionValue, CallbackId
from bot.state import timeline
from bot.state.models import Incident
from tests.e2e.conftest import SERVICE, channel_prefix
from tests.e2e.test_lifecycle import bot_without_worker  # noqa: F401 - fixture
from tests.e2e.test_safety import replies_to


def declared(alice: OnCall):
    alice.type(f"{SERVICE} errors")
    channel = alice.channel(channel_prefix())
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)
    return channel


def resolve(person: OnCall, channel_id: str) -> None:
    person.type("resolve", channel_id=channel_id)
    person.submit(
        person.modal(CallbackId.RESOLVE),
        {RESOLVE_ROOT_CAUSE: {RESOLVE_ROOT_CAUSE: "bad payment client"}, RESOLVE_IMPACT: {RESOLVE_IMPACT: "5xx"}},
    )


def answer(world, user: str, n: int) -> str:
    return wait_for(f"answer {n} to {user}", lambda: (r := replies_to(world, user)) and len(r) >= n and r, 10)[n - 1]


def test_every_action_of_someone_the_catalog_does_not_allow_is_refused_audited_and_in_the_postmortem(world, bot):
    alice, dave = OnCall(bot, ONCALL), OnCall(bot, VIEWER)
    channel = declared(alice)
    incident = incident_in_channel(bot.rt, channel.id)
    attempts = [
        (lambda: dave.click(channel.id, ActionId.ROLLBACK_PREVIOUS), "You can't roll back shopping-service"),
        (lambda: dave.click(channel.id, ActionId.FORWARD_FIX), "You can't choose a forward fix on INC-"),
        (lambda: dave.click(channel.id, ActionId.DISMISS), "You can't dismiss the incident on INC-"),
        (lambda: dave.type("update", channel_id=channel.id), "You can't post a status update on INC-"),
        (lambda: dave.type("resolve", channel_id=channel.id), "You can't resolve the incident on INC-"),
    ]
    for n, (attempt, refusal) in enumerate(attempts, start=1):
        attempt()
        text = answer(world, VIEWER, n)
        assert refusal in text and "Nothing was changed" in text, text
    # A plan someone allowed asked for: dave may neither confirm nor cancel it.
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    dave.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert "You can't confirm a rollback on INC-" in answer(world, VIEWER, len(attempts) + 1)
    dave.click(channel.id, ActionId.CANCEL_ROLLBACK)
    assert "You can't cancel a rollback plan on INC-" in answer(world, VIEWER, len(attempts) + 2)

    assert bot.rt.db.transaction(lambda s: s.get(Incident, incident.id)).status == "open", "nothing moved"

    def audited():  # the refusal is answered first, then recorded: wait for the last record
        found = [e for e in timeline.events(bot.rt.db, incident.id) if e.kind == "audit"]
        return found if len(found) >= len(attempts) + 2 else None

    audit = bot.wait_for("every refusal audited", audited, 10)
    assert len(audit) == len(attempts) + 2 and {e.actor for e in audit} == {VIEWER}
    assert not [e for e in timeline.events(bot.rt.db, incident.id) if e.kind in ("decision", "dismissed")]

    alice.click(channel.id, ActionId.CANCEL_ROLLBACK)
    resolve(alice, channel.id)
    alice.message_saying(channel.id, "is resolved", timeout=30)
    markdown = postmortem_markdown(bot.rt, incident.key)
    appendix = markdown.split("## Appendix: audit", 1)[1]
    assert appendix.count("was refused") == len(attempts) + 2


def test_resolve_is_refused_while_a_rollback_runs_and_says_when_it_ends(world, bot_without_worker):  # noqa: F811
    bot = bot_without_worker
    alice = OnCall(bot, ONCALL)
    channel = declared(alice)
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.message_saying(channel.id, "started the rollback", timeout=10)
    seen = len(replies_to(world, ONCALL))
    alice.type("resolve", channel_id=channel.id)
    text = answer(world, ONCALL, seen + 1)
    assert "can't be resolved while its rollback runs" in text and "Nothing was changed" in text, text
    assert "The rollback ends" in text
    assert incident_in_channel(bot.rt, channel.id).status == "rolling_back"


def test_a_dismissed_incident_takes_no_more_decisions(world, bot):
    alice = OnCall(bot, ONCALL)
    channel = declared(alice)
    alice.click(channel.id, ActionId.DISMISS)
    alice.message_saying(channel.id, "dismissed", timeout=10)
    key = incident_in_channel(bot.rt, channel.id).key
    # The card lost its buttons; a click that was already on its way (a phone offline for a minute) still lands.
    said: list[str] = []
    late = SlackUser(LEAD, channel.id, "", lambda text, blocks=None: said.append(text))
    decisions.forward_fix(bot.rt, ActionValue(key), late)
    decisions.dismiss(bot.rt, ActionValue(key), late)
    assert len(said) == 2 and all("it was dismissed" in t and "Nothing was changed" in t for t in said), said
    assert incident_in_channel(bot.rt, channel.id).status == "dismissed"
    kinds = [e.kind for e in timeline.events(bot.rt.db, incident_in_channel(bot.rt, channel.id).id)]
    assert kinds.count("dismissed") == 1 and "decision" not in kinds


def test_two_people_declaring_at_once_get_one_incident_and_one_channel(world, bot):
    alice, carol = OnCall(bot, ONCALL), OnCall(bot, LEAD)
    barrier = threading.Barrier(2)

    def declare(person: OnCall) -> None:
        barrier.wait()
        person.type(f"{SERVICE} errors")

    threads = [threading.Thread(target=declare, args=(p,)) for p in (alice, carol)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    channel = alice.channel(channel_prefix())
    pointed = wait_for(
        "someone pointed to the open incident",
        lambda: [t for u in (ONCALL, LEAD) for t in replies_to(world, u) if "is already open" in t],
        15,
    )
    assert "I did not open a second incident" in pointed[0]
    assert bot.rt.db.transaction(lambda s: s.query(Incident).count()) == 1
    assert [c.name for c in world.slack.channels.values() if c.name.startswith("inc-")] == [channel.name]


def test_the_report_needs_no_network_and_matches_the_uploaded_postmortem(world, bot):
    alice = OnCall(bot, ONCALL)
    channel = declared(alice)
    alice.click(channel.id, ActionId.FORWARD_FIX)
    alice.message_saying(channel.id, "forward fix", timeout=10)
    resolve(alice, channel.id)
    alice.message_saying(channel.id, "is resolved", timeout=30)
    key = incident_in_channel(bot.rt, channel.id).key
    uploaded = (bot.rt.postmortem_dir / f"{key}.md").read_text()
    world.slack.stop()  # Slack is gone
    bot.rt.known_people.clear()
    assert postmortem_markdown(bot.rt, key) == uploaded
    assert "U_ONCALL" not in uploaded, "display names, captured when people acted"


def test_a_form_slack_refuses_to_open_is_answered(world, bot):
    alice = OnCall(bot, ONCALL)
    channel = declared(alice)
    world.slack.fail_next("views.open", "expired_trigger_id")
    seen = len(replies_to(world, ONCALL))
    alice.type("update", channel_id=channel.id)
    text = answer(world, ONCALL, seen + 1)
    assert "I could not open the status update form" in text and "expired_trigger_id" in text
    assert "Please try once more" in text


def test_a_postmortem_file_that_cannot_be_written_skips_neither_upload_nor_announcement(world, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the postmortem folder should be")
    with BotHarness(world, env={"POSTMORTEM_DIR": str(blocked)}) as bot:
        alice = OnCall(bot, ONCALL)
        channel = declared(alice)
        resolve(alice, channel.id)
        files = wait_for("the postmortem upload", lambda: world.slack.files(channel.id), 20)
        uploaded = files[0]["content"].decode()
        assert "## Root cause" in uploaded
        incident = incident_in_channel(bot.rt, channel.id)
        assert incident.postmortem == uploaded, "the database holds it; the file is only a copy"
        announcements = world.slack.channel_by_name("incidents")["id"]
        alice.message_saying(announcements, "Resolved", timeout=10)
        notes = [e.text for e in timeline.events(bot.rt.db, incident.id) if e.kind == "note"]
        assert any("Could not write the postmortem file" in n for n in notes)


def test_a_request_whose_work_fails_is_answered(world, bot):
    said: list[str] = []
    actor = SlackUser(ONCALL, "", "", lambda text, blocks=None: said.append(text))

    def breaks() -> None:
        raise RuntimeError("the database is read-only")

    bot.rt.submit(breaks, answer=actor)
    wait_for("the person to be told", lambda: said, 10)
    assert "Something went wrong while I handled breaks" in said[0] and "read-only" in said[0]
