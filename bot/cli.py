"""rollback-bot serve | worker | migrate | demo | sandbox | report | check-config | rbac | alert-rules.

The sandbox's commands (demo, sandbox) are added through the ``rollback_bot.commands`` entry points: the
product never imports the sandbox.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib.metadata import entry_points

from bot import logs, redact
from bot.config import ConfigError, Settings, check_config
from bot.state.db import SchemaBehind

DEFAULT_DATABASE_URL = Settings.database_url


def _runtime(settings: Settings):  # type: ignore[no-untyped-def]
    """The runtime of ``serve`` and ``worker``: the schema migrated only with MIGRATE_ON_START, else checked."""
    from bot.runtime import build_runtime

    return build_runtime(settings, schema="migrate" if settings.migrate_on_start else "check")


def _serve(args: argparse.Namespace) -> int:
    from bot.app import create_app, wsgi_app
    from bot.worker import Worker

    settings = Settings.from_env()
    rt = _runtime(settings)
    app = create_app(settings, rt)
    if not args.no_worker:
        Worker(rt, max_parallel=args.slots).start_thread()
    if settings.slack_app_token:  # Slack over the WebSocket; the port still serves the probes (GET /healthz)
        from bot.socket_mode import socket_mode

        socket_mode(app, settings.slack_app_token).connect()
        logging.info("Socket Mode: connected to Slack")
    import waitress

    logging.info("serving POST /slack/events, GET /healthz, /readyz and /metrics on port %s", settings.port)
    waitress.serve(
        wsgi_app(app, rt),
        host=args.host,
        port=settings.port,
        threads=args.threads,
        ident="rollback-bot",
        asyncore_use_poll=True,  # poll(), not select(): a busy process may hold descriptors past 1024
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    import threading

    import waitress.server

    from bot.routes import probes, router
    from bot.worker import Worker

    settings = Settings.from_env()
    rt = _runtime(settings)
    server = waitress.server.create_server(
        router(probes(rt)), host=args.host, port=settings.metrics_port, threads=2, ident="rollback-bot-worker"
    )
    threading.Thread(target=server.run, name="worker-http", daemon=True).start()
    logging.info("worker: GET /metrics, /healthz and /readyz on port %s", server.effective_port)
    Worker(rt, max_parallel=args.slots).run_forever()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Only the database: no Slack tokens needed, so an init container or a release step can run it."""
    from bot.state.db import Database

    url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    redact.remember(url)
    db = Database(url)
    try:
        before, head = db.revisions()
        db.migrate()
    finally:
        db.dispose()
    where = redact.redact(url)
    if before == head:
        print(f"{where}: the schema is at revision {head} already; nothing to do.")
    else:
        print(f"{where}: migrated the schema from {before or 'nothing (a new database)'} to revision {head}.")
    return 0


def _report(args: argparse.Namespace) -> int:
    from bot.incidents.resolve import postmortem_markdown
    from bot.runtime import build_runtime

    rt = build_runtime(Settings.from_env(), schema="skip")
    markdown = postmortem_markdown(rt, args.incident)
    if markdown is None:
        print(f"No incident {args.incident} in {redact.redact(rt.settings.database_url)}.", file=sys.stderr)
        return 1
    sys.stdout.write(markdown)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    path = args.path or os.environ.get("ROLLBACK_BOT_CONFIG", "config/services.yaml")
    errors, warnings = check_config(path, os.environ.get("KUBECONFIG"))
    for line in errors + warnings:
        print(line, file=sys.stderr)
    if not errors:
        print(f"{path}: OK" + (f" ({len(warnings)} warning{'s' if len(warnings) > 1 else ''})" if warnings else ""))
    return 1 if errors else 0


def _alert_rules(args: argparse.Namespace) -> int:
    from bot.config import load_catalog
    from bot.config.alert_rules import rules_yaml, watched

    if args.defaults:
        sys.stdout.write(rules_yaml())
        return 0
    path = args.path or os.environ.get("ROLLBACK_BOT_CONFIG", "config/services.yaml")
    sys.stdout.write(rules_yaml(watched(load_catalog(path))))
    return 0


def _rbac(args: argparse.Namespace) -> int:
    from bot.config import load_catalog
    from bot.providers.kubernetes import roles

    options = roles.Options(args.namespace, args.service_account, args.argocd_namespace, args.flux_namespace,
                            secrets=not args.no_secrets)
    command = " ".join(["rollback-bot rbac", args.catalog, *_rbac_flags(args)])
    manifests = roles.render(load_catalog(args.catalog), command, options)
    if "kind: Role\n" not in manifests:
        print(f"{args.catalog} names no service on Kubernetes: it needs no Role.", file=sys.stderr)
    sys.stdout.write(manifests)
    return 0


def _rbac_flags(args: argparse.Namespace) -> list[str]:
    """The options given, as typed, for the header of the output (so it says how to make it again)."""
    flags = [f"--{name.replace('_', '-')} {value}" for name, value, default in (
        ("namespace", args.namespace, "rollback-bot"),
        ("service_account", args.service_account, "rollback-bot"),
        ("argocd_namespace", args.argocd_namespace, None),
        ("flux_namespace", args.flux_namespace, None),
    ) if value != default]
    return flags + (["--no-secrets"] if args.no_secrets else [])


def _add_rbac(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rbac", help="print the least-privilege Roles and RoleBindings a catalog needs")
    p.add_argument("catalog", help="the services catalog (config/services.yaml)")
    p.add_argument("--namespace", default="rollback-bot", help="the bot's own namespace (default rollback-bot)")
    p.add_argument("--service-account", default="rollback-bot", help="its ServiceAccount (default rollback-bot)")
    p.add_argument("--argocd-namespace", help="grant the GitOps suspend on Argo CD's Applications there (argocd)")
    p.add_argument("--flux-namespace", help="grant it on Flux's Kustomizations and HelmReleases there (flux-system)")
    p.add_argument("--no-secrets", action="store_true", help="the bot runs without CONFIG_FINGERPRINT_KEY: "
                   "the config tracker reads no Secret")
    p.set_defaults(func=_rbac)


COMMANDS = "rollback_bot.commands"  # each: a function that adds its subparser to the ones given
SLOTS_HELP = "rollbacks this process runs at once; more wait in the queue, never expired (default 4)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rollback-bot", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the Slack app (HTTP, or Socket Mode with SLACK_APP_TOKEN)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--no-worker", action="store_true", help="do not run rollbacks in this process")
    p.add_argument("--slots", type=int, default=4, help=SLOTS_HELP)
    p.set_defaults(func=_serve)
    p = sub.add_parser("worker", help="run rollbacks, reminders and resumed runs (GET /metrics on METRICS_PORT)")
    p.add_argument("--slots", type=int, default=4, help=SLOTS_HELP)
    p.add_argument("--host", default="0.0.0.0", help="where its /metrics, /healthz and /readyz listen")
    p.set_defaults(func=_worker)
    p = sub.add_parser("migrate", help="upgrade the database schema to this release's (once per deploy)")
    p.set_defaults(func=_migrate)
    for point in entry_points(group=COMMANDS):  # the sandbox's demo and sandbox (bot/sandbox/commands.py)
        try:
            add = point.load()
        except ModuleNotFoundError as exc:  # its package is not installed: the container image has no sandbox
            if exc.name and point.module.startswith(exc.name):
                continue
            raise
        add(sub)
    p = sub.add_parser("report", help="print the postmortem markdown of an incident")
    p.add_argument("incident", help="INC-YYYY-NNN")
    p.set_defaults(func=_report)
    p = sub.add_parser("check-config", help="validate the services catalog")
    p.add_argument("path", nargs="?")
    p.set_defaults(func=_check_config)
    _add_rbac(sub)
    p = sub.add_parser("alert-rules", help="print the Prometheus alerting rules of the catalog's triggers")
    p.add_argument("path", nargs="?", help="the catalog (default: ROLLBACK_BOT_CONFIG)")
    p.add_argument("--defaults", action="store_true", help="the default thresholds only (deploy/prometheus/)")
    p.set_defaults(func=_alert_rules)
    args = parser.parse_args(argv)
    log_format = os.environ.get("LOG_FORMAT", "").strip().lower()
    logs.configure("json" if log_format == "json" else "text", verbose=args.verbose)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {redact.redact(str(exc))}", file=sys.stderr)
        return 2
    except SchemaBehind as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
