"""rollback-bot serve | worker | demo | sandbox | report | check-config | alert-rules.

The sandbox's commands (demo, sandbox) are added through the ``rollback_bot.commands`` entry points: the
product never imports the sandbox.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib.metadata import entry_points

from bot import redact
from bot.config import ConfigError, Settings, check_config


def _serve(args: argparse.Namespace) -> int:
    from bot.app import create_app, wsgi_app
    from bot.runtime import build_runtime
    from bot.worker import Worker

    settings = Settings.from_env()
    rt = build_runtime(settings)
    app = create_app(settings, rt)
    if not args.no_worker:
        Worker(rt, max_parallel=args.slots).start_thread()
    if settings.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        logging.info("Socket Mode: connecting to Slack")
        SocketModeHandler(app, settings.slack_app_token).start()
        return 0
    import waitress

    logging.info("serving POST /slack/events and GET /healthz on port %s", settings.port)
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
    from bot.runtime import build_runtime
    from bot.worker import Worker

    Worker(build_runtime(Settings.from_env()), max_parallel=args.slots).run_forever()
    return 0


def _report(args: argparse.Namespace) -> int:
    from bot.incidents.resolve import postmortem_markdown
    from bot.runtime import build_runtime

    rt = build_runtime(Settings.from_env(), migrate=False)
    markdown = postmortem_markdown(rt, args.incident)
    if markdown is None:
        print(f"No incident {args.incident} in {redact.redact(rt.settings.database_url)}.", file=sys.stderr)
        return 1
    sys.stdout.write(markdown)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    path = args.path or os.environ.get("ROLLBACK_BOT_CONFIG", "config/services.yaml")
    errors, warnings = check_config(path)
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
    p = sub.add_parser("worker", help="run rollbacks, reminders and resumed runs")
    p.add_argument("--slots", type=int, default=4, help=SLOTS_HELP)
    p.set_defaults(func=_worker)
    for point in entry_points(group=COMMANDS):  # the sandbox's demo and sandbox (bot/sandbox/commands.py)
        point.load()(sub)
    p = sub.add_parser("report", help="print the postmortem markdown of an incident")
    p.add_argument("incident", help="INC-YYYY-NNN")
    p.set_defaults(func=_report)
    p = sub.add_parser("check-config", help="validate the services catalog")
    p.add_argument("path", nargs="?")
    p.set_defaults(func=_check_config)
    p = sub.add_parser("alert-rules", help="print the Prometheus alerting rules of the catalog's triggers")
    p.add_argument("path", nargs="?", help="the catalog (default: ROLLBACK_BOT_CONFIG)")
    p.add_argument("--defaults", action="store_true", help="the default thresholds only (deploy/prometheus/)")
    p.set_defaults(func=_alert_rules)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    redact.install()
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {redact.redact(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
