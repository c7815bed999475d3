"""The whole sandbox world in one process: cluster, services, Prometheus, Slack, catalog.

Used by ``rollback-bot sandbox``, ``rollback-bot demo`` and the test fixtures, so
all three see the same world. Every part is reached over real HTTP on loopback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

from bot.config import load_catalog
from bot.config.alert_rules import rules_yaml, watched
from bot.sandbox.alertmanager import AlertmanagerProcess
from bot.sandbox.aws import REGION, AwsSandbox
from bot.sandbox.aws_alb import AlbTraffic
from bot.sandbox.aws_dr import DrWorld, seed_dr
from bot.sandbox.clock import SimClock
from bot.sandbox.cloudfront import Invalidations
from bot.sandbox.cloudwatch import CloudWatchPublisher
from bot.sandbox.cloudwatch import dimensions as cloudwatch_dimensions
from bot.sandbox.databases import NAMES as DB_NAMES
from bot.sandbox.databases import SandboxDatabases
from bot.sandbox.ecs import EcsDeployments
from bot.sandbox.engine.world import SwarmEngine
from bot.sandbox.httpserver import SandboxServer, scratch_dir
from bot.sandbox.k8s import Cluster, make_api, write_kubeconfig
from bot.sandbox.pagerduty import PagerDutyEmulator
from bot.sandbox.prometheus import PrometheusProcess
from bot.sandbox.receiver import WebhookReceiver
from bot.sandbox.scenario import Scenario, ServiceSpec, load_scenario, with_swarm
from bot.sandbox.services import start_services
from bot.sandbox.slack import SlackEmulator
from bot.sandbox.statuspage import StatuspageEmulator

log = logging.getLogger(__name__)

SANDBOX_BOT_TOKEN = "xoxb-sandbox"
SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"
SCRAPE_INTERVAL = "1s"  # the sandbox's Prometheus scrapes every second; the bot is told so
ONCALL, OWNER, LEAD, VIEWER = "U_ONCALL", "U_OWNER", "U_LEAD", "U_VIEWER"
EAST = "sandbox-east"  # the second cluster's kubeconfig context (World(second_cluster=True))


@dataclasses.dataclass
class SecondCluster:
    """Another Kubernetes API simulator running the same scenario (the same names), its context ``EAST`` in the
    world's kubeconfig; each scenario service is in the catalog again as ``<name>-east`` with ``cluster: EAST``."""

    cluster: Cluster
    server: SandboxServer | None = None
    services: dict[str, SandboxServer] = dataclasses.field(default_factory=dict)

    def stop(self) -> None:
        for srv in self.services.values():
            srv.stop()
        if self.server:
            self.server.stop()
        self.cluster.stop()


WEBHOOK_SECRET_ENV = "SANDBOX_WEBHOOK_SECRET"


class World:
    def __init__(
        self,
        scenario: Scenario | None = None,
        clock_scale: float | None = None,
        prometheus: bool | None = None,
        state_dir: str | Path | None = None,
        k8s_port: int = 0,
        kubeconfig: str | Path | None = None,
        catalog_overrides: Mapping[str, Any] | None = None,
        alerting: bool = False,
        pagerduty: bool = False,
        second_cluster: bool = False,
        swarm: bool = False,
        cloudwatch: bool = False,
        dr: bool = False,
        databases: bool = False,
        alb: bool = False,
        webhooks: bool = False,
        status_page: bool = False,
        vms: bool = False,
    ) -> None:
        """``catalog_overrides``: keys set on every service of the catalog, e.g. a short analysis bake; a
        ``blue_green`` or ``canary`` key is merged into the ``options:`` of the services of that strategy.
        ``alerting``: Prometheus evaluates the catalog's alert rules (``rollback-bot alert-rules``: short
        ``*_for`` only through a ``thresholds`` override) and sends them to a real Alertmanager, whose webhook
        posts to the bot once ``connect_alerts`` names it.
        ``second_cluster``: a second cluster (``SecondCluster``) beside the first.
        ``swarm``: the Docker Engine API simulator with the Swarm services of ``scenarios/swarm.yaml``.
        ``cloudwatch``: the ECS services' ALB metrics written to CloudWatch from their traffic
        (``CloudWatchPublisher``), and the catalog reads their signals there (``signals: cloudwatch``).
        ``dr``: a Route53 zone with health checks, an RDS instance with a read replica (``seed_dr``, ``world.dr``).
        ``databases``: a real MariaDB (else two PostgreSQL databases) holding ``primary`` and ``fallback``
        (``SandboxDatabases``), their URLs in ``env()`` as ``PRIMARY_DB_URL`` and ``FALLBACK_DB_URL``.
        ``alb``: the scenario's services behind an ALB (``kind: ALBService``) are in the world, their load balancer
        and CloudFront distribution in moto (``aws_alb.py``, ``cloudfront.py``); without it they are left out.
        ``pagerduty``: PagerDuty's Events API emulated (``world.pagerduty``; ``env()`` sets its routing key and URL).
        ``webhooks``: a receiver (``self.webhooks``) named in the catalog's ``webhooks:``, signed with
        ``webhook_secret`` from the environment variable ``WEBHOOK_SECRET_ENV``.
        ``status_page``: a Statuspage emulator (``self.status_page``), each service its component ``<name>``.
        ``vms``: the VM service ``shopping-vm`` (``bot/sandbox/vms.py``): real sshd per host, real HAProxy."""
        self.k8s_port = k8s_port
        self.scenario = scenario or load_scenario()
        if swarm:
            self.scenario = with_swarm(self.scenario)
        if not alb:
            kept = tuple(s for s in self.scenario.services if s.alb is None)
            self.scenario = dataclasses.replace(self.scenario, services=kept)
        self.clock = SimClock(clock_scale or self.scenario.time_scale)
        self._own_dir = state_dir is None
        self.state_dir = Path(state_dir or scratch_dir("rollback-sandbox-"))
        self.want_prometheus = prometheus
        self.cluster = Cluster(self.scenario, self.clock)
        self.k8s_faults = self.cluster.faults  # make the Kubernetes API fail on demand (tests, chaos bench)
        self.east = SecondCluster(Cluster(self.scenario, self.clock)) if second_cluster else None
        self.slack = SlackEmulator(bot_token=SANDBOX_BOT_TOKEN)
        self.k8s_server: SandboxServer | None = None
        self.services: dict[str, SandboxServer] = {}
        self.prometheus: PrometheusProcess | None = None
        self.want_alerting = alerting
        self.pagerduty = PagerDutyEmulator() if pagerduty else None
        self.webhooks = WebhookReceiver() if webhooks else None
        self.webhook_secret = secrets.token_hex(16)
        names = [s.name for s in self.scenario.services]
        self.status_page = StatuspageEmulator(names) if status_page else None
        self.alertmanager: AlertmanagerProcess | None = None
        self.aws: AwsSandbox | None = None  # moto behind its front, for scenario services on AWS (ECS)
        self.ecs: EcsDeployments | None = None
        self.engine: SwarmEngine | None = SwarmEngine(self.scenario, self.clock) if swarm else None
        self.want_cloudwatch = cloudwatch
        self.cloudwatch: CloudWatchPublisher | None = None
        self.want_dr = dr
        self.dr: DrWorld | None = None
        self.want_databases = databases
        self.databases: SandboxDatabases | None = None
        self.alb: AlbTraffic | None = None  # World(alb=True): the ALB services' load balancers in moto
        self.cloudfront: Invalidations | None = None  # ... and their distributions' invalidations
        self.cdn: dict[str, str] = {}  # service -> its CloudFront distribution id
        self.kubeconfig = Path(kubeconfig).resolve() if kubeconfig else self.state_dir / "kubeconfig"
        self.catalog_path = self.state_dir / "services.yaml"
        self.catalog_overrides = dict(catalog_overrides or {})
        self.fingerprint_key = secrets.token_hex(32)  # the bot's CONFIG_FINGERPRINT_KEY: one per world
        self.alertmanager_token = secrets.token_hex(16)  # the bot's ALERTMANAGER_TOKEN, which Alertmanager sends
        self.bot_addresses: list[str] = []  # the bots' /metrics that Prometheus scrapes ("host:port")
        self.want_vms = vms
        self.vms: Any = None  # bot.sandbox.vms.VmFleet (imported only when asked for)

    def start(self) -> World:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.want_databases:
            self.databases = SandboxDatabases().start()
        self._start_aws()  # before the kubeconfig is written: `rollback-bot sandbox`'s readers wait for that file
        self.cluster.start()
        self.k8s_server = SandboxServer(make_api(self.cluster), port=self.k8s_port).start()
        others = {}
        if self.east:
            self.east.cluster.start()
            self.east.server = SandboxServer(make_api(self.east.cluster)).start()
            self.east.services = start_services(self.scenario, self.east.cluster, self.clock)
            others[EAST] = self.east.server.url
        namespace = self.scenario.services[0].namespace
        write_kubeconfig(self.kubeconfig, self.k8s_server.url, namespace=namespace, others=others)
        if self.engine:
            self.engine.start(self.state_dir)
        self.services = start_services(
            self.scenario, self.cluster, self.clock, ecs=self.ecs, swarm=self.engine, alb=self.alb
        )
        if self.want_cloudwatch and self.aws:
            simulators = {name: srv.app for name, srv in self.services.items()}
            self.cloudwatch = CloudWatchPublisher(self.scenario, simulators, self.aws.moto.url)
            self.cloudwatch.install(self.aws.front)
            self.cloudwatch.start().wait_written()
        if self.want_vms:
            from bot.sandbox.vms import VmFleet

            self.vms = VmFleet(self.scenario, self.clock).start()
            self.services[self.vms.name] = self.vms.metrics
        self.write_catalog()
        if self.want_prometheus is not False and (self.want_prometheus or shutil.which("prometheus")):
            self._start_prometheus()
        self.slack.start()
        return self

    def _start_prometheus(self) -> None:
        targets = {name: f"{srv.host}:{srv.port}" for name, srv in self.services.items()}
        rules = None
        if self.pagerduty:
            self.pagerduty.start()
        if self.webhooks:
            self.webhooks.start()
        if self.status_page:
            self.status_page.start()
        if self.want_alerting:
            self.alertmanager = AlertmanagerProcess().start()
            rules = rules_yaml(watched(load_catalog(self.catalog_path)))
        alertmanager = self.alertmanager.url if self.alertmanager else None
        self.prometheus = PrometheusProcess(
            targets, scrape_interval=SCRAPE_INTERVAL, rules=rules, alertmanager=alertmanager
        ).start()
        self._wait_for_rates()

    def connect_alerts(self, bot_url: str) -> None:
        """Alertmanager's webhook posts to the bot at ``bot_url`` from now on (no Alertmanager: nothing)."""
        if self.alertmanager:
            self.alertmanager.send_to(f"{bot_url}/alerts/alertmanager", self.alertmanager_token)

    def _start_aws(self) -> None:
        """moto and its front, with the ECS deployments model, when some scenario service runs on ECS."""
        on_ecs = [svc for svc in self.scenario.services if svc.ecs]
        on_alb = [svc for svc in self.scenario.services if svc.alb]
        if not on_ecs and not on_alb:
            return
        self.aws = AwsSandbox().start()
        self.ecs = EcsDeployments(self.scenario, self.clock, self.aws.moto.url)
        if self.want_dr:
            self.dr = seed_dr(self.aws.moto.url, self.aws.front)
        self.ecs.install(self.aws.front)
        for svc in on_ecs:
            self.ecs.seed(svc)
        if on_alb:
            self._start_alb(on_alb)

    def _start_alb(self, on_alb: list[ServiceSpec]) -> None:
        self.alb = AlbTraffic(self.scenario, self.aws.moto.url)
        self.alb.install(self.aws.front)
        self.cloudfront = Invalidations(self.clock, self.aws.moto.url, on_alb[0].alb.invalidation_seconds)
        self.cloudfront.install(self.aws.front)
        for svc in on_alb:
            self.alb.seed(svc)
            if svc.alb.cdn:
                self.cdn[svc.name] = self.cloudfront.seed(svc.name, self.alb.dns_name(svc.name))

    def _wait_for_rates(self, timeout: float = 30.0, samples: int = 6) -> None:
        """Wait for a few scrapes, so the first read's rates are steady, not two noisy samples."""
        deadline = time.monotonic() + timeout
        query = f"min(count_over_time(http_requests_total[{samples * 2}s])) >= {samples}"
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"{self.prometheus.url}/api/v1/query", params={"query": query}, timeout=2).json()
                if answer.get("data", {}).get("result"):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        log.warning("Prometheus has no request rates after %.0fs", timeout)

    def write_catalog(self) -> Path:
        """The services catalog for this world: the sandbox's people and ports, the example's defaults."""
        catalog = {
            "announcements_channel": "#incidents",
            "reminder_minutes": 30,
            "services": {svc.name: self._catalog_entry(svc) for svc in self.scenario.services},
        }
        if self.webhooks:
            catalog = {"webhooks": [{"url": self.webhooks.url, "secret_env": WEBHOOK_SECRET_ENV}], **catalog}
        if self.vms:
            people = {"owners": [OWNER], "rollback_allowed": [ONCALL, OWNER, LEAD], "escalation": LEAD}
            catalog["services"][self.vms.name] = {**self.vms.catalog_entry(), **people, **self._plain_overrides()}
        if self.east:
            for svc in (s for s in self.scenario.services if s.on_kubernetes):  # a cluster holds no AWS service
                health = f"{self.east.services[svc.name].url}/actuator/health"
                entry = {**self._catalog_entry(svc), "cluster": EAST, "health_url": health}
                catalog["services"][f"{svc.name}-east"] = entry
        self.catalog_path.write_text(yaml.safe_dump(catalog, sort_keys=False))
        return self.catalog_path

    def _catalog_entry(self, svc: ServiceSpec) -> dict[str, Any]:
        if svc.ecs:
            return self._ecs_entry(svc)
        if svc.swarm and self.engine:
            return {**self._people(svc), **self.engine.catalog_entry(svc), **self._overrides(svc)}
        if svc.alb:
            return self._alb_entry(svc)
        entry: dict[str, Any] = {
            "namespace": svc.namespace,
            "deployment": svc.name,
            "container": svc.container,
            "strategy": svc.strategy,
            "health_url": f"{self.services[svc.name].url}/actuator/health",
            "owners": [OWNER],
            "rollback_allowed": [ONCALL, OWNER, LEAD],
            "escalation": LEAD,
        }
        overrides = {k: v for k, v in self.catalog_overrides.items() if k not in ("blue_green", "canary", "alb")}
        if svc.blue_green:
            bg = svc.blue_green
            entry["options"] = {
                "selector_key": bg.selector_key,
                "colours": {c: f"{svc.name}-{c}" for c in bg.colours},
                **({"virtual_service": svc.name} if bg.virtual_service else {}),
                **self.catalog_overrides.get("blue_green", {}),
            }
        if svc.canary:
            entry["options"] = {
                "stable": f"{svc.name}-stable",
                "canary": f"{svc.name}-canary",
                **({"virtual_service": svc.name} if svc.canary.virtual_service else {}),
                **self.catalog_overrides.get("canary", {}),
            }
        if self.status_page:
            entry["status_page"] = {"component": svc.name}
        return {**entry, **svc.catalog, **overrides}

    def _people(self, svc: ServiceSpec) -> dict[str, Any]:
        return {"health_url": f"{self.services[svc.name].url}/actuator/health", "owners": [OWNER],
                "rollback_allowed": [ONCALL, OWNER, LEAD], "escalation": LEAD}

    def _overrides(self, svc: ServiceSpec) -> dict[str, Any]:
        return {**svc.catalog, **{k: v for k, v in self.catalog_overrides.items() if k not in ("blue_green", "canary")}}

    def _ecs_entry(self, svc: ServiceSpec) -> dict[str, Any]:
        """An ECS service: its cluster, service and region (no namespace: it is not on Kubernetes)."""
        entry = {
            "strategy": "aws-ecs",
            "health_url": f"{self.services[svc.name].url}/actuator/health",
            "owners": [OWNER],
            "rollback_allowed": [ONCALL, OWNER, LEAD],
            "escalation": LEAD,
            "options": {"cluster": svc.ecs.cluster, "service": svc.name, "region": REGION},
        }
        if self.want_cloudwatch:
            load_balancer, target_group = cloudwatch_dimensions(svc.name)
            dims = {"load_balancer": load_balancer, "target_group": target_group}
            entry |= {"signals": "cloudwatch", "cloudwatch": dims}
        overrides = {k: v for k, v in self.catalog_overrides.items() if k not in ("blue_green", "canary", "alb")}
        return {**entry, **svc.catalog, **overrides}

    def _alb_entry(self, svc: ServiceSpec) -> dict[str, Any]:
        """A service behind an ALB: its listener rule, the stable target group, the region, its CloudFront."""
        options = {"rule": self.alb.rule_arn(svc.name), "stable": f"{svc.name}-stable", "region": REGION,
                   **self.catalog_overrides.get("alb", {})}
        entry = {
            "strategy": "aws-alb",
            "health_url": f"{self.services[svc.name].url}/actuator/health",
            "owners": [OWNER],
            "rollback_allowed": [ONCALL, OWNER, LEAD],
            "escalation": LEAD,
            "options": options,
            **({"cdn": {"distribution_id": self.cdn[svc.name]}} if svc.name in self.cdn else {}),
        }
        overrides = {k: v for k, v in self.catalog_overrides.items() if k not in ("blue_green", "canary", "alb")}
        return {**entry, **svc.catalog, **overrides}

    def _plain_overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.catalog_overrides.items() if k not in ("blue_green", "canary")}

    def apply_config_change(self, service: str) -> None:
        """Make the scenario's ``config_change`` of ``service``, as a person would: write the ConfigMap (under
        the change's field manager, e.g. ``kubectl-edit``), then ``kubectl rollout restart`` its Deployment."""
        svc = self.scenario.service(service)
        change = svc.config_change
        if not change:
            raise ValueError(f"service {service} has no config_change in the scenario")
        self.cluster.patch(
            "configmaps", svc.namespace, change["configmap"], {"data": change["data"]}, change.get("by", "kubectl-edit")
        )
        restarted = {"kubectl.kubernetes.io/restartedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        template = {"spec": {"template": {"metadata": {"annotations": restarted}}}}
        self.cluster.patch("deployments", svc.namespace, svc.name, template, "kubectl-rollout")

    def config_change_commands(self, service: str) -> list[str]:
        """The same change by hand, with kubectl."""
        svc = self.scenario.service(service)
        change = svc.config_change or {}
        patch = json.dumps({"data": change.get("data", {})}, separators=(",", ":"))
        flags = f"-n {svc.namespace} --kubeconfig {self.kubeconfig}"
        return [
            f"kubectl patch configmap {change.get('configmap')} {flags} --type merge -p '{patch}'",
            f"kubectl rollout restart deployment/{svc.name} {flags}",
        ]

    def scrape_bot(self, address: str, scraped: bool = True) -> None:
        """Prometheus scrapes (or, ``scraped=False``, stops scraping) a bot's ``/metrics`` at ``address``."""
        if scraped and address not in self.bot_addresses:
            self.bot_addresses.append(address)
        elif not scraped and address in self.bot_addresses:
            self.bot_addresses.remove(address)
        if self.prometheus:
            self.prometheus.scrape_bot(self.bot_addresses)

    def mark_image(self, image: str, **behaviour: object) -> None:
        """Change how an image behaves from now on (e.g. ``crashloop=True``): new pods follow it."""
        self.scenario.images[image] = dataclasses.replace(self.scenario.behaviour(image), **behaviour)

    def env(self) -> dict[str, str]:
        """The bot's environment for this world (what `rollback-bot serve` reads)."""
        env = {
            "SLACK_BOT_TOKEN": SANDBOX_BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SANDBOX_SIGNING_SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "KUBECONFIG": str(self.kubeconfig),
            "ROLLBACK_BOT_CONFIG": str(self.catalog_path),
            "DATABASE_URL": f"sqlite:///{self.state_dir / 'rollback-bot.db'}",
            "POSTMORTEM_DIR": str(self.state_dir / "postmortems"),
            "CONFIG_FINGERPRINT_KEY": self.fingerprint_key,
            "ALERTMANAGER_TOKEN": self.alertmanager_token,
            "MIGRATE_ON_START": "true",  # a throw-away database: no separate `rollback-bot migrate` step
        }
        if self.databases:
            env.update({f"{name.upper()}_DB_URL": url for name, url in self.databases.urls.items() if name in DB_NAMES})
        if self.aws:
            env.update(self.aws.env())  # boto3's default chain and the standard AWS_ENDPOINT_URL
        if self.status_page:
            page = self.status_page
            env.update(STATUSPAGE_URL=page.url, STATUSPAGE_PAGE_ID=page.page_id, STATUSPAGE_API_KEY=page.api_key)
        if self.prometheus:
            env["PROMETHEUS_URL"] = self.prometheus.url
            env["PROMETHEUS_SCRAPE_INTERVAL"] = SCRAPE_INTERVAL
        if self.cloudwatch:  # its datapoints come every second too: the analysis' shortest window follows
            env["PROMETHEUS_SCRAPE_INTERVAL"] = SCRAPE_INTERVAL
        if self.pagerduty:
            env["PAGERDUTY_ROUTING_KEY"] = self.pagerduty.routing_key
            env["PAGERDUTY_URL"] = self.pagerduty.url
        return env

    def stop(self) -> None:
        for stop in (
            self.k8s_faults.clear,  # first: the k8s server's close waits for requests a fault stalls
            self.slack.stop,
            self.prometheus.stop if self.prometheus else None,
            self.alertmanager.stop if self.alertmanager else None,
            self.pagerduty.stop if self.pagerduty else None,
            self.webhooks.stop if self.webhooks else None,
            self.status_page.stop if self.status_page else None,
            *(srv.stop for srv in self.services.values()),
            self.engine.stop if self.engine else None,
            self.k8s_server.stop if self.k8s_server else None,
            self.cloudwatch.stop if self.cloudwatch else None,
            self.aws.stop if self.aws else None,
            self.cluster.stop,
            self.databases.stop if self.databases else None,
            self.east.stop if self.east else None,
            self.vms.stop if self.vms else None,
        ):
            if stop:
                try:
                    stop()
                except Exception:  # stopping must go on whatever one part does
                    log.exception("stopping the sandbox")
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
