"""Resolving: the postmortem form, closing the incident, and the postmortem rendered from the record.

The markdown is stored on the incident row; the file under POSTMORTEM_DIR and the Slack
upload are copies, so a failure of either loses nothing and skips nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from pathlib import Path

from bot import reports
from bot.incidents import cards, paging, sync, times
from bot.incidents.actors import Actor
from bot.incidents.common import incident_for, now, open_view, quietly
from bot.incidents.comms import News, announce
from bot.incidents.decisions import refuse_state
from bot.incidents.events import MENTION, capture_names, record
from bot.incidents.permissions import Action, authorize
from bot.incidents.roles import taken_back
from bot.reports import render_postmortem
from bot.runtime import Runtime
from bot.signals.severity import Severity
from bot.slack import views
from bot.slack.gateway import SlackFailure
from bot.slack.views import ActionValue
from bot.state import people, runs, timeline
from bot.state.incidents import WrongState, get_incident, move, update_incident
from bot.state.models import ActionItem, Incident, TimelineEvent
from bot.strategies.base import Plan, RollbackError, plan_from_json

log = logging.getLogger(__name__)


def _when_it_ends(rt: Runtime, incident: Incident) -> str:
    run = runs.active_run(rt.db, incident.service)
    if run is None or run.started_at is None:
        return "as soon as the rollback has started and finished"
    service = rt.catalog.get(incident.service)
    bake = service.analysis.bake_seconds if service else 0
    by = run.started_at + dt.timedelta(seconds=rt.settings.rollback_deadline_seconds + bake)
    return f"by {views.date(by)} at the latest"


def open_resolve(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    incident = incident_for(rt, value.incident_key, actor)
    if incident is None or not authorize(rt, incident, actor, Action.RESOLVE):
        return
    if incident.status == "rolling_back":
        actor.error(
            f"{incident.key} can't be resolved while its rollback runs",
            f"The rollback ends {_when_it_ends(rt, incident)}; the card shows its progress.",
            "Nothing was changed. Resolve it once the card says the rollback is verified or failed.",
        )
        return
    if not incident.is_open:
        actor.reply(
            f"{incident.key} is already {incident.status}. `rollback-bot report {incident.key}` prints its postmortem."
        )
        return
    open_view(rt, actor, views.resolve_modal(incident.key), "postmortem")


def resolve(rt: Runtime, key: str, actor: Actor, form: views.ResolveForm) -> str | None:
    """Close the incident, render the postmortem from the record, store it, upload it; returns its path."""
    incident = get_incident(rt.db, key)
    if incident is None:
        actor.error("I can't find that incident", f"There is no incident {key}.", "Nothing was changed.")
        return None
    if not authorize(rt, incident, actor, Action.RESOLVE):
        return None
    capture_names(rt, *(item.owner for item in form.action_items))

    def close(session) -> None:
        if not move(
            session,
            incident.id,
            "resolve",
            resolved_at=now(),
            root_cause=form.root_cause,
            impact=form.impact,
            lessons=form.lessons,
        ):
            raise WrongState(session.get(Incident, incident.id, populate_existing=True), "resolve")
        for item in form.action_items:
            session.add(ActionItem(incident_id=incident.id, text=item.text, owner=item.owner or None, due=item.due))

    try:
        rt.db.transaction(close)
    except WrongState as exc:
        if exc.status and exc.status.value == "rolling_back":
            actor.error(
                f"{incident.key} can't be resolved while its rollback runs",
                f"The rollback ends {_when_it_ends(rt, incident)}.",
                "Nothing was changed. Submit the form again once the card says the rollback ended.",
            )
        else:
            refuse_state(actor, exc.incident, "resolve it")
        return None
    record(rt, incident.id, "resolved", f"{actor.mention} resolved the incident", actor=actor)
    paging.resolved(rt, incident)
    return _publish(rt, incident)


def _publish(rt: Runtime, incident: Incident) -> str | None:
    """The postmortem of a just-resolved incident: stored, written, uploaded, announced."""
    try:
        times.record_first_breach(rt, incident, timeline.events(rt.db, incident.id))
    except Exception:  # the detection time is nice to have; the postmortem goes on without it
        log.exception("could not search Prometheus for the first breach of %s", incident.key)
    markdown, archived = _archive(rt, incident, postmortem_markdown(rt, incident.key) or "")
    incident = update_incident(rt.db, incident.id, postmortem=markdown)
    path = _write_copy(rt, incident, markdown)
    try:
        rt.slack.upload(
            incident.channel_id,
            f"{incident.key}.md",
            markdown,
            f"Postmortem {incident.key}",
            f":white_check_mark: {incident.key} is resolved. Here is the postmortem, written from "
            f"the recorded timeline; action items are a checklist at the end.{archived}\n" + _times_line(rt, incident),
        )
    except SlackFailure as exc:
        quietly(
            rt.slack.post,
            incident.channel_id,
            f"{incident.key} is resolved, but the postmortem upload failed ({exc.error}). It is stored by the "
            f"bot: `rollback-bot report {incident.key}` prints it.",
        )
    cards.refresh(rt, incident.id)
    announce(rt, incident, News.RESOLVED, views.announcement(cards.card_info(rt, incident)))
    return str(path) if path else None


def _archive(rt: Runtime, incident: Incident, markdown: str) -> tuple[str, str]:
    """With ``ARCHIVE_BUCKET``: the postmortem (linking both objects) and the timeline written to S3, and the
    resolve message's line naming them. A failure is recorded and posted, and the postmortem is kept as it was
    (the database holds it; the local file is its cache): (markdown, "")."""
    if rt.archive is None:
        return markdown, ""
    year = (incident.created_at or now()).year
    where = rt.archive.locations(year, incident.key)
    links = "\n".join(f"- {name}: [{uri}]({console})" for name, (uri, console) in where.items())
    linked = f"{markdown.rstrip()}\n\n## Archive\n\n{links}\n"
    files = {"postmortem.md": linked, "timeline.json": timeline_json(rt, incident)}
    try:
        rt.archive.write(year, incident.key, files)
    except Exception as exc:  # an AwsError in words; anything else still never loses the postmortem
        log.warning("could not archive %s: %s", incident.key, exc)
        words = str(exc) if isinstance(exc, RollbackError) else f"{type(exc).__name__}: {exc}"
        record(rt, incident.id, "note", f"The S3 archive failed: {words}")
        quietly(
            rt.slack.post,
            incident.channel_id,
            f":warning: {incident.key}: the S3 archive failed: {words} Nothing is lost: the bot holds the "
            f"postmortem (`rollback-bot report {incident.key}` prints it).",
        )
        return markdown, ""
    record(rt, incident.id, "note", "Archived to S3: " + ", ".join(uri for uri, _ in where.values()))
    return linked, "\nArchived to S3 (encrypted): " + " and ".join(f"<{c}|{u}>" for u, c in where.values())


def timeline_json(rt: Runtime, incident: Incident) -> str:
    """The incident's timeline as the archive keeps it: every event, oldest first, times in UTC."""
    events = [
        {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "text": e.text, "data": e.data}
        for e in timeline.events(rt.db, incident.id)
    ]
    body = {"incident": incident.key, "service": incident.service, "events": events}
    return json.dumps(body, indent=2, default=str, ensure_ascii=False) + "\n"


def _times_line(rt: Runtime, incident: Incident) -> str:
    """The postmortem's time figures for Slack: each time in the reader's own time zone."""
    d = postmortem_input(rt, incident)
    marks = [
        ("Deployed", d.deployed_at),
        ("first breach", d.detected_at),
        ("declared", d.declared_at),
        ("decided", d.decision.when if d.decision else None),
        ("mitigated", d.mitigated_at),
        ("resolved", d.resolved_at),
    ]
    shown = " · ".join(f"{label} {views.date(at, '{time_secs}', '%H:%M:%S UTC')}" for label, at in marks if at)
    start = d.detected_at or d.deployed_at or d.declared_at
    spans = [
        ("detect", reports.duration(d.deployed_at, d.detected_at)),
        ("decide", reports.duration(d.declared_at, d.decision.when if d.decision else None)),
        ("mitigate", reports.duration(start, d.mitigated_at)),
        ("resolve", reports.duration(start, d.resolved_at)),
    ]
    figures = " · ".join(f"time to {what} {value}" for what, value in spans if value != reports.NOT_RECORDED)
    return f"{shown}\n{figures}".strip()


def _write_copy(rt: Runtime, incident: Incident, markdown: str) -> Path | None:
    """The file copy under POSTMORTEM_DIR; a failure is recorded and skips nothing else."""
    path = rt.postmortem_dir / f"{incident.key}.md"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown)
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)
        record(rt, incident.id, "note", f"Could not write the postmortem file {path}: {exc.strerror or exc}")
        return None
    return path


def postmortem_markdown(rt: Runtime, key: str) -> str | None:
    """The stored postmortem of a resolved incident, else one rendered from the record now."""
    incident = get_incident(rt.db, key)
    if incident is None:
        return None
    return incident.postmortem or render_postmortem(postmortem_input(rt, incident))


def _times(incident: Incident, events: list[TimelineEvent], plan: Plan | None) -> dict:
    """The postmortem's times besides the decision and the rollback's own."""
    detected, how = times.detection(events)
    assessed = [e.at for e in events if e.kind == "assessed"]
    if detected is None and assessed:
        detected, how = assessed[0], "none found in Prometheus; this is when the bot first read the signals"
    return {
        "deployed_at": times.deployed_at(incident, events, plan.current if plan else None),
        "detected_at": detected,
        "detected_how": how,
        "declared_at": incident.created_at,
        "mitigated_at": times.mitigated_at(incident, events),
        "resolved_at": incident.resolved_at,
    }


def _gitops_items(events: list[TimelineEvent]) -> list[reports.ActionItem]:
    """Every sync a rollback suspended leaves work for the team: Git must get the rollback before sync is on."""
    resumed = {(e.data or {}).get("run_id") for e in events if e.kind == sync.RESUMED}
    items = []
    for e in events:
        d = e.data or {}
        if e.kind != sync.SUSPENDED:
            continue
        title = sync.recorded_owner(d).title
        done = d.get("run_id") in resumed
        text = f"Revert the change in Git, then re-enable sync of the {title}"
        if done:
            text += " (sync was turned back on during the incident: check that Git has the rollback)"
        items.append(reports.ActionItem(text, "", None, done))
    return items


def _event(e: TimelineEvent, name, with_names) -> reports.Event:
    """A timeline row; a pinned message is shown as said: its author, its time, its text."""
    data = e.data or {}
    if e.kind == "pinned":
        said = dt.datetime.fromisoformat(data["said_at"]) if data.get("said_at") else e.at
        return reports.Event(said, e.kind, name(data.get("author") or e.actor), with_names(e.text), True)
    return reports.Event(e.at, e.kind, name(e.actor), with_names(e.text), bool(data.get("human")))


def _known_names(rt: Runtime, incident: Incident, events: list[TimelineEvent]) -> dict[str, str]:
    """The stored display name of everyone the postmortem names."""
    ids = {incident.declared_by, incident.lead_user_id, incident.comms_user_id, *(e.actor for e in events)}
    ids |= {(e.data or {}).get("author") for e in events if e.kind == "pinned"}
    ids |= {m for e in events for m in MENTION.findall(e.text)} | {a.owner for a in incident.action_items}
    return people.known(rt.db, {i for i in ids if i})


def postmortem_input(rt: Runtime, incident: Incident) -> reports.PostmortemInput:
    """The postmortem's facts, all taken from the database (names included): no network needed."""
    events = timeline.events(rt.db, incident.id)
    names = _known_names(rt, incident, events)

    def name(user: str | None) -> str:
        return "" if not user or user == "bot" else names.get(user, user)

    def with_names(text: str) -> str:
        return MENTION.sub(lambda m: "@" + name(m.group(1)), views.undate(text))

    def shown(kept: Iterable[TimelineEvent]) -> tuple[reports.Event, ...]:
        return tuple(_event(e, name, with_names) for e in kept)

    first = {e.kind: e for e in reversed(events)}  # the first event of each kind
    gone = taken_back(events)  # pins taken off again
    run = cards.latest_run(rt, incident.id)
    plan = plan_from_json(run.plan) if run else None
    decisions = [e for e in events if e.kind == "decision"]
    confirmed = [e for e in decisions if (e.data or {}).get("plan_decision") == "confirmed"]
    decision = (confirmed or decisions or [None])[0]
    started = first.get("rollback_started") or first.get("patched")
    finished = first.get("verified") or first.get("rolled_out")
    assessed = incident.assessment if (incident.assessment or {}).get("severity") else None
    assessment = cards.assessment_from_json(assessed)
    return reports.PostmortemInput(
        incident_key=incident.key,
        service=incident.service,
        namespace=incident.namespace,
        severity=Severity(incident.severity) if incident.severity else None,
        status=incident.status,
        declared_by=name(incident.declared_by),
        lead=name(incident.lead_user_id),
        comms=name(incident.comms_user_id),
        acknowledgements=paging.acknowledgements(events, name),
        **_times(incident, events, plan),
        decision=reports.Decision(
            name(decision.actor), (decision.data or {}).get("what") or with_names(decision.text), decision.at
        )
        if decision
        else None,
        rollback_started_at=started.at if started else None,
        rollback_finished_at=finished.at if finished else None,
        from_version=plan.current.version if plan else "",
        to_version=plan.desired.version if plan and plan.desired else "",
        strategy=run.strategy if run else "",
        root_cause=incident.root_cause or "",
        impact=incident.impact or "",
        lessons=incident.lessons or "",
        action_items=(
            *(reports.ActionItem(a.text, name(a.owner), a.due, a.done) for a in incident.action_items),
            *_gitops_items(events),
        ),
        events=shown(e for e in events if e.kind not in ("audit", "unpinned") and e.id not in gone),
        signals=assessment.signals if assessment else (),
        audit=shown(e for e in events if e.kind == "audit"),
        plan_changes=plan.changes if plan else (),
        strategy_steps=shown(e for e in events if e.kind in reports.STRATEGY_EVENTS),
    )
