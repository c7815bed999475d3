"""Names and values the catalog and the settings share: Kubernetes names, durations, PromQL strings."""

from __future__ import annotations

import re

K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
USER_ID = re.compile(r"[UW][A-Z0-9_]{2,}")
SYSTEM_ACTOR = re.compile(r"system:[a-z][a-z0-9-]{0,24}")  # a system actor's id; 32 characters at most
CHANNEL = re.compile(r"#[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{2,}")
DURATION = re.compile(r"([1-9][0-9]*)([smhd])")
_SECONDS_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """``"15s"`` -> 15, ``"1m"`` -> 60 (the catalog's duration syntax)."""
    match = DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration such as 15s or 1m: {text!r}")
    return int(match.group(1)) * _SECONDS_PER[match.group(2)]


def valid_k8s_name(s: object) -> bool:
    """An RFC 1123 DNS label: safe as a Kubernetes name, a PromQL label value and a channel suffix."""
    return isinstance(s, str) and len(s) <= 63 and K8S_NAME.fullmatch(s) is not None


def promql_string(value: str) -> str:
    """A double-quoted PromQL string literal holding ``value`` verbatim (no injection)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'
