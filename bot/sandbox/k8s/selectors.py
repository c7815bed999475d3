"""Label and field selectors in the syntax of the Kubernetes API query string."""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import bad_request

Matcher = Callable[[dict], bool]
_SET_OP = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s*\((.*)\)\s*$")


def _split(text: str) -> list[str]:
    """Split on commas that are not inside ``in (...)`` parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def _requirement(term: str) -> Callable[[dict[str, str]], bool]:
    m = _SET_OP.match(term)
    if m:
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (s.strip() for s in term.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = term[1:].strip()
        return lambda labels: key not in labels
    if re.fullmatch(r"[\w./-]+", term):
        return lambda labels: term in labels
    raise bad_request(f"unable to parse requirement: {term!r}")


def label_matcher(selector: str | dict[str, str] | None) -> Matcher:
    if not selector:
        return lambda obj: True
    if isinstance(selector, dict):
        reqs = [_requirement(f"{k}={v}") for k, v in selector.items()]
    else:
        reqs = [_requirement(t) for t in _split(selector)]
    return lambda obj: all(r(obj.get("metadata", {}).get("labels") or {}) for r in reqs)


def _field(obj: dict, path: str) -> str:
    cur: object = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def field_matcher(selector: str | None) -> Matcher:
    if not selector:
        return lambda obj: True
    reqs = []
    for term in _split(selector):
        for op in ("!=", "==", "="):
            if op in term:
                path, value = (s.strip() for s in term.split(op, 1))
                reqs.append((path, op != "!=", value))
                break
        else:
            raise bad_request(f"invalid field selector: {term!r}")
    return lambda obj: all((_field(obj, p) == v) == eq for p, eq, v in reqs)


def selector_string(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))
