"""CloudFront invalidations, modelled where moto does not: moto takes ``CreateInvalidation`` and answers it (and
every ``GetInvalidation``) as Completed at once. A real invalidation is InProgress for a while (minutes) before
it is Completed, and a strategy's invalidation step waits for that with a deadline. ``Invalidations``, through
``AwsFront``'s hooks, keeps each invalidation InProgress for ``seconds`` of the world's SimClock after it was
created (``stall()``: until ``release()``), then lets moto's Completed through.

It also seeds a distribution for each scenario service whose ALB has ``cdn: true`` (origin: the load balancer's
DNS name), whose id goes into the service's catalog ``cdn:``.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET

from bot.sandbox.aws import REST_ACTIONS, AwsFront, client_for
from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import Request, Response

API = "/2020-05-31/distribution"
CREATE = re.compile(rf"{API}/(?P<dist>[A-Z0-9]+)/invalidation")
GET = re.compile(rf"{API}/(?P<dist>[A-Z0-9]+)/invalidation/(?P<id>[A-Z0-9]+)")
REST_ACTIONS.extend(
    [
        ("cloudfront", "POST", CREATE, "CreateInvalidation"),
        ("cloudfront", "GET", GET, "GetInvalidation"),
        ("cloudfront", "POST", re.compile(API), "CreateDistribution"),
        ("cloudfront", "GET", re.compile(rf"{API}/[A-Z0-9]+"), "GetDistribution"),
    ]
)


class Invalidations:
    def __init__(self, clock: SimClock, moto_url: str, seconds: float = 3.0) -> None:
        self.clock, self.seconds = clock, seconds
        self._cloudfront = client_for(moto_url, "cloudfront")
        self._created: dict[str, float] = {}  # invalidation id -> SimClock time it was created
        self._stalled = False
        self._lock = threading.Lock()

    def install(self, front: AwsFront) -> None:
        front.hooks["cloudfront:CreateInvalidation"] = self._create
        front.hooks["cloudfront:GetInvalidation"] = self._get

    def stall(self) -> None:
        """Invalidations stay InProgress from now on (a deadline test), until ``release``."""
        with self._lock:
            self._stalled = True

    def release(self) -> None:
        with self._lock:
            self._stalled = False

    def seed(self, name: str, origin: str) -> str:
        """A distribution in front of ``origin`` (a load balancer's DNS name); its id."""
        origins = {
            "Quantity": 1,
            "Items": [
                {
                    "Id": name,
                    "DomainName": origin,
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"},
                }
            ],
        }
        behaviour = {
            "TargetOriginId": name,
            "ViewerProtocolPolicy": "redirect-to-https",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        }
        config = {
            "CallerReference": f"sandbox-{name}",
            "Origins": origins,
            "DefaultCacheBehavior": behaviour,
            "Comment": f"{name} (sandbox)",
            "Enabled": True,
        }
        return self._cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]

    def _in_progress(self, invalidation_id: str) -> bool:
        with self._lock:
            created = self._created.get(invalidation_id)
            return created is not None and (self._stalled or self.clock.now() - created < self.seconds)

    def _create(self, req: Request, forward) -> Response:
        answer = forward(req)
        if answer.status not in (200, 201):
            return answer
        root = ET.fromstring(answer.body)
        found = _field(root, "Id")
        if found is not None:
            with self._lock:
                self._created[found.text or ""] = self.clock.now()
        return _with_status(answer, root, "InProgress")

    def _get(self, req: Request, forward) -> Response:
        answer = forward(req)
        match = GET.fullmatch(req.path)
        if answer.status != 200 or not match or not self._in_progress(match["id"]):
            return answer
        return _with_status(answer, ET.fromstring(answer.body), "InProgress")


def _field(root: ET.Element, name: str) -> ET.Element | None:
    return next((e for e in root if e.tag.rsplit("}", 1)[-1] == name), None)


def _with_status(answer: Response, root: ET.Element, status: str) -> Response:
    found = _field(root, "Status")
    if found is not None:
        found.text = status
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if namespace:
        ET.register_namespace("", namespace)
    return Response(answer.status, ET.tostring(root, encoding="utf-8"), answer.headers)
