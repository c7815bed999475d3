"""Escalation pages: the matrix to choose a situation from, the page with *I'm on it*, and its acknowledgement."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.views.blocks import ActionId, _actions, _button, _context, _section, encode_value, escape, user


def minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


def matrix_blocks(incident_key: str, situations: Sequence[tuple[str, tuple[str, ...], int]]) -> list[dict]:
    """Each situation (name, who, response time) with its *Page* button (the value carries its index)."""
    blocks = [_section(f"*Page escalation for {escape(incident_key)}*: which situation is it?")]
    for i, (name, people, within) in enumerate(situations[:20]):
        chain = " → ".join(user(p) for p in people)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{escape(name)}*: {chain} · respond within {minutes(within)}"},
                "accessory": _button(f"Page {name}"[:75], ActionId.PAGE_SITUATION, encode_value(incident_key, i)),
            }
        )
    blocks.append(_context("Each missed response time pings again and pages the next person in the row."))
    return blocks


def page_blocks(
    incident_key: str, situation: str, paged: Sequence[str], by: str, within: int, page_id: int, again: bool = False
) -> list[dict]:
    """The page in the incident channel: who, why, by when, and *I'm on it*."""
    who = " ".join(user(p) for p in paged)
    lead = ":rotating_light: *Paged again, one step up*" if again else ":rotating_light: *Paged*"
    return [
        _section(
            f"{lead} · {who}: {escape(incident_key)} needs you ({escape(situation)}), paged by {user(by)}. "
            f"Please acknowledge within {minutes(within)}, or the next person is paged."
        ),
        _actions(_button("I'm on it", ActionId.ACK_PAGE, encode_value(incident_key, None, page_id), style="primary")),
    ]
