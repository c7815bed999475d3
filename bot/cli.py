"""rollback-bot serve | worker | demo | sandbox | report | check-config."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from bot import redact
from bot.config import ConfigError, Settings, check_config
from bot.strategies import registry


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


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(out=sys.stdout, scenario=args.scenario, strategy=args.strategy)


def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.scenario import load_scenario
    from bot.sandbox.world import World

    world = World(
        load_scenario(args.scenario),
        clock_scale=args.time_scale,
        prometheus=None if not args.no_prometheus else False,
        state_dir=args.state_dir,
        k8s_port=args.port,
        kubeconfig=args.kubeconfig,
    )
    world.start()
    print(f"Kubernetes API  {world.k8s_server.url}  (kubeconfig: {world.kubeconfig})")
    for name, srv in world.services.items():
        print(f"service         {name}: {srv.url}/metrics  {srv.url}/actuator/health")
    print(f"Prometheus      {world.prometheus.url if world.prometheus else 'not running (no prometheus binary)'}")
    print(f"Slack emulator  {world.slack.api_url}")
    print("Environment for the bot:")
    for key, value in world.env().items():
        print(f"  export {key}={value}")  # the sandbox's own fixed token, needed to run the bot against it
    print(f"Try: kubectl --kubeconfig {world.kubeconfig} rollout history deploy/shopping-service -n shopping")
    for svc in world.scenario.services:
        if svc.config_change:  # a config incident starts when someone makes it, once the bot is watching
            print(f"Break {svc.name}'s config once the bot runs (its config tracker records the change):")
            for command in world.config_change_commands(svc.name):
                print(f"  {command}")
    print("Ctrl-C stops the sandbox.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        world.stop()
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


SLOTS_HELP = "rollbacks this process runs at once; more wait in the queue, never expired (default 4)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rollback-bot", description=__doc__)
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
    p = sub.add_parser("demo", help="play a whole incident against the sandbox world")
    p.add_argument("--scenario", default=None)
    p.add_argument(
        "--strategy",
        default="kubernetes",
        choices=registry.available(),
        help="which strategy's incident to play (default: kubernetes, shopping-service)",
    )
    p.set_defaults(func=_demo)
    p = sub.add_parser("sandbox", help="run the simulated cluster, services, Prometheus and Slack")
    p.add_argument("--scenario", default=None, help="scenario YAML (default: the shipped one)")
    p.add_argument("--port", type=int, default=6443, help="Kubernetes API port")
    p.add_argument("--kubeconfig", default="sandbox.kubeconfig")
    p.add_argument("--time-scale", type=float, default=None)
    p.add_argument("--state-dir", default=None)
    p.add_argument("--no-prometheus", action="store_true")
    p.set_defaults(func=_sandbox)
    p = sub.add_parser("report", help="print the postmortem markdown of an incident")
    p.add_argument("incident", help="INC-YYYY-NNN")
    p.set_defaults(func=_report)
    p = sub.add_parser("check-config", help="validate the services catalog")
    p.add_argument("path", nargs="?")
    p.set_defaults(func=_check_config)
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
