"""The sandbox's commands of ``rollback-bot``: ``demo`` and ``sandbox``.

They are added to the CLI through the ``rollback_bot.commands`` entry point (pyproject.toml), so the product
(``bot/cli.py`` included) never imports the sandbox, and a build without it has neither command.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading

from bot.strategies import registry


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="play a whole incident against the sandbox world")
    p.add_argument("--scenario", default=None)
    p.add_argument(
        "--strategy",
        default="kubernetes",
        choices=registry.available(),
        help="which strategy's incident to play (default: kubernetes, shopping-service)",
    )
    p.add_argument(
        "--signals",
        default="prometheus",
        choices=("prometheus", "cloudwatch"),
        help="where the bot reads the signals: cloudwatch (with --strategy aws-ecs) is the only source, no Prometheus",
    )
    p.set_defaults(func=_demo)
    p = sub.add_parser("sandbox", help="run the simulated cluster, services, Prometheus and Slack")
    p.add_argument("--scenario", default=None, help="scenario YAML (default: the shipped one)")
    p.add_argument("--port", type=int, default=6443, help="Kubernetes API port")
    p.add_argument("--kubeconfig", default="sandbox.kubeconfig")
    p.add_argument("--time-scale", type=float, default=None)
    p.add_argument("--state-dir", default=None)
    p.add_argument("--no-prometheus", action="store_true")
    p.add_argument(
        "--bot-url",
        default="http://127.0.0.1:3000",
        help="where Alertmanager's webhook posts the alerts (the bot's `serve`; default http://127.0.0.1:3000)",
    )
    p.set_defaults(func=_sandbox)


def _demo(args: argparse.Namespace) -> int:
    from bot.sandbox.demo import run_demo

    return run_demo(out=sys.stdout, scenario=args.scenario, strategy=args.strategy, signals=args.signals)


def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.scenario import load_scenario
    from bot.sandbox.world import World

    alerting = not args.no_prometheus and shutil.which("prometheus-alertmanager") is not None
    world = World(
        load_scenario(args.scenario),
        clock_scale=args.time_scale,
        prometheus=None if not args.no_prometheus else False,
        state_dir=args.state_dir,
        k8s_port=args.port,
        kubeconfig=args.kubeconfig,
        alerting=alerting,
    )
    world.start()
    world.connect_alerts(args.bot_url)
    print(f"Kubernetes API  {world.k8s_server.url}  (kubeconfig: {world.kubeconfig})")
    for name, srv in world.services.items():
        print(f"service         {name}: {srv.url}/metrics  {srv.url}/actuator/health")
    print(f"Prometheus      {world.prometheus.url if world.prometheus else 'not running (no prometheus binary)'}")
    am = world.alertmanager
    print(f"Alertmanager    {f'{am.url} -> {am.webhook_url}' if am else 'not running (no prometheus-alertmanager)'}")
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
