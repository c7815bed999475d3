"""The catalog's ``escalation:`` (per service, or at the top as everyone's default): who is paged in which situation,
and how soon they must answer. A single user id keeps working (the ``rollback_failed`` situation, paged at once)::

    escalation:
      - situation: rollback_failed
        page: [U0ONCALL1, U0LEAD001]   # in order: no acknowledgement within respond_within pages the next one
        respond_within: 5m
      - situation: database
        page: U0DBA0001
        respond_within: 5m
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import yaml

from bot.config.names import K8S_NAME, duration_seconds
from bot.config.reader import INVALID, USER, CatalogReader, is_duration, is_user

DEFAULT_SITUATION = "rollback_failed"
DEFAULT_RESPONSE = 300  # seconds: a single user id answers within 5 minutes, or is paged again
_ENTRY_KEYS = {"situation": "its name", "page": "user ids, in escalation order", "respond_within": "a duration"}


@dataclass(frozen=True)
class Situation:
    name: str  # rollback_failed | database | infrastructure | company_wide | ...
    page: tuple[str, ...]  # the steps: page[0] first, then one step up each missed response time
    respond_within: int = DEFAULT_RESPONSE  # seconds


def situation_named(matrix: tuple[Situation, ...], name: str) -> Situation | None:
    return next((s for s in matrix if s.name == name), None)


def contact(matrix: tuple[Situation, ...]) -> str | None:
    """The first person of ``rollback_failed`` (else of the first situation): the deadline's escalation contact."""
    first = situation_named(matrix, DEFAULT_SITUATION) or (matrix[0] if matrix else None)
    return first.page[0] if first else None


def read_escalation(r: CatalogReader, node: yaml.Node, where: str) -> tuple[Situation, ...] | object:
    """A user id, or a list of situations; INVALID after an error (reported with its file:line)."""
    if isinstance(node, yaml.ScalarNode):
        user = r.check(node, where, *USER)
        return INVALID if user is INVALID else (Situation(DEFAULT_SITUATION, (user,)),)
    if not isinstance(node, yaml.SequenceNode):
        return r.error(
            node, where, "expected a Slack user id or a list of situations (situation, page, respond_within)"
        )
    matrix: list[Situation] = []
    for i, item in enumerate(node.value):
        here = f"{where}[{i}]"
        given = r.mapping(item, here, _ENTRY_KEYS)
        if given is None:
            continue
        for key in ("situation", "page"):
            if key not in given:
                r.error(item, f"{here}.{key}", "missing")
        name = (
            r.check(given["situation"], f"{here}.situation", _is_name, "a name such as database")
            if "situation" in given
            else INVALID
        )
        page = _page(r, given["page"], f"{here}.page") if "page" in given else INVALID
        within = DEFAULT_RESPONSE
        if "respond_within" in given:
            value = r.check(given["respond_within"], f"{here}.respond_within", is_duration, "a duration such as 5m")
            within = INVALID if value is INVALID else duration_seconds(value)
        if INVALID in (name, page, within):
            continue
        if situation_named(tuple(matrix), name):
            r.error(given["situation"], f"{here}.situation", f"{name} is listed twice")
            continue
        matrix.append(Situation(name, page, within))
    return tuple(matrix)


def read_service_escalation(r: CatalogReader, spec: dict[str, yaml.Node], where: str, kwargs: dict) -> None:
    if "escalation" in spec and r.value(spec["escalation"]) is not None:
        matrix = read_escalation(r, spec["escalation"], f"{where}.escalation")
        if matrix is not INVALID:
            kwargs["escalation"] = matrix


def with_default(r: CatalogReader, top: dict[str, yaml.Node], services: dict) -> dict:
    """The top-level ``escalation:`` given to every service without one of its own."""
    if "escalation" not in top or r.value(top["escalation"]) is None:
        return services
    matrix = read_escalation(r, top["escalation"], "escalation")
    if matrix is INVALID:
        return services
    return {n: s if s.escalation else replace(s, escalation=matrix) for n, s in services.items()}


def _is_name(v: object) -> bool:
    return isinstance(v, str) and K8S_NAME.fullmatch(v.replace("_", "-")) is not None and len(v) <= 40


def _page(r: CatalogReader, node: yaml.Node, where: str) -> tuple[str, ...] | object:
    if isinstance(node, yaml.ScalarNode):
        user = r.check(node, where, *USER)
        return INVALID if user is INVALID else (user,)
    people = r.strings(node, where, is_user, USER[1])
    if people is INVALID:
        return INVALID
    return tuple(people) if people else r.error(node, where, "names nobody")
