"""The status page driver: Atlassian Statuspage's REST API (``/v1/pages/{page}/components/{component}``).

``get`` reads what a component says now, ``set`` changes it (``PATCH {"component": {"status": …}}`` with
``Authorization: OAuth <key>``); each call is bounded and a failure is a ``StatusPageError`` in words.
"""

from __future__ import annotations

import requests

from bot.config.outbound import STATUSES


class StatusPageError(Exception):
    pass


class Statuspage:
    def __init__(self, url: str, page_id: str, api_key: str, timeout: float = 5.0) -> None:
        self.base = f"{url.rstrip('/')}/pages/{page_id}/components"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"OAuth {api_key}"

    def _call(self, method: str, component: str, body: dict | None = None) -> str:
        try:
            answer = self.session.request(method, f"{self.base}/{component}", json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise StatusPageError(f"the status page did not answer: {exc}") from exc
        if answer.status_code in (401, 403):
            raise StatusPageError("the status page refused the key (check STATUSPAGE_API_KEY)")
        if answer.status_code == 404:
            raise StatusPageError(f"the status page has no component {component!r} (check status_page.component)")
        if not answer.ok:
            raise StatusPageError(f"the status page answered HTTP {answer.status_code}")
        try:
            return str(answer.json()["status"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StatusPageError("the status page gave an answer without a status") from exc

    def get(self, component: str) -> str:
        return self._call("GET", component)

    def set(self, component: str, status: str) -> str:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return self._call("PATCH", component, {"component": {"status": status}})

    def close(self) -> None:
        self.session.close()
