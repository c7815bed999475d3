"""``/rollback`` ack latency of the real bot against a bare Bolt app that only calls ``ack()``.

Three processes, so that no part steals the others' interpreter lock: this one runs the sandbox World
(no Prometheus) with the Slack emulator; a server process runs both apps on waitress as
``rollback-bot serve`` runs the bot (threads=8, worker thread beside it; same signing secret, same
emulator, one auth.test each); a load process sends the commands. The bot really answers each one
through its response_url after acking, and a batch starts only when those replies have arrived.
Requests are built beforehand by ``SlackDriver`` (each with its own response_url and trigger_id) and
signed when sent: N per app, C concurrent (one kept-alive ``requests.Session`` per client thread), in
interleaved batches (order alternating) so machine noise hits both apps alike. Latency = the HTTP round
trip (request sent -> response headers), i.e. what Slack waits for; "in flight" (Little's law) shows
whether the load really kept C requests at the server. Prints p50/p90/p99/max, the ratios bot/bare, and the
p99 ratio of each pair of batches
(target: p99 <= 1.2x, overall and in every batch). Always exits 0: it is a measurement.
Run: ``.venv/bin/python bench/ack_latency.py [requests] [concurrency] [command text]``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from itertools import repeat
from multiprocessing.connection import Connection
from typing import Any

import waitress.server
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.app import create_app, wsgi_app
from bot.config import Settings
from bot.runtime import build_runtime
from bot.sandbox.harness import wait_for
from bot.sandbox.slack import SlackDriver
from bot.sandbox.world import ONCALL, SANDBOX_SIGNING_SECRET, World
from bot.slack.gateway import make_client
from bot.worker import Worker

THREADS = 8  # bot/cli.py `serve --threads` default
BATCHES = 5  # of N/5 each, alternating apps: fewer means steadier concurrency, more means fairer noise
WARMUP = 20
TARGET = 1.2
FORM = "application/x-www-form-urlencoded"


def bare_app(settings: Settings) -> App:
    """The reference: same secret, same emulator-backed client, one listener that only acks."""
    app = App(signing_secret=settings.slack_signing_secret, name="bare",
              client=make_client(settings.slack_bot_token, settings.slack_api_url))

    @app.command("/rollback")
    def noop(ack) -> None:
        ack()

    return app


class Served:
    """A waitress server with ``serve``'s settings, run from a daemon thread."""

    def __init__(self, wsgi, name: str) -> None:
        self.server = waitress.server.create_server(wsgi, host="127.0.0.1", port=0, threads=THREADS)
        self.url = f"http://127.0.0.1:{self.server.effective_port}/slack/events"
        self._closing = False
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            self.server.run()
        except OSError:
            if not self._closing:  # closing the socket under waitress' select loop ends it this way
                raise

    def close(self) -> None:
        self._closing = True
        self.server.close()


def serve_apps(env: dict[str, str], conn: Connection) -> None:
    """Server process: the bot built as ``rollback-bot serve`` builds it, and the bare app."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N" on every burst
    settings = Settings.from_env(env)
    rt = build_runtime(settings)
    bot = Served(wsgi_app(create_app(settings, rt), rt), "bot-http")
    bare = Served(SlackRequestHandler(bare_app(settings)), "bare-http")
    worker = Worker(rt)
    worker.start_thread()
    conn.send((bot.url, bare.url))
    try:
        conn.recv()
    finally:
        worker.stop()
        bot.close()
        bare.close()
        rt.db.dispose()


def send_load(conn: Connection, concurrency: int) -> None:
    """Load process: for each (url, bodies) received, POST them signed, ``concurrency`` at a time, and
    answer (latencies, seconds taken); None ends it."""
    local = threading.local()

    def one(url: str, body: str) -> float:
        drivers = local.__dict__.setdefault("drivers", {})
        if url not in drivers:  # transport only (send() never touches the emulator): one Session each
            drivers[url] = SlackDriver(None, url, SANDBOX_SIGNING_SECRET)  # type: ignore[arg-type]
        response = drivers[url].send(body, FORM)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered HTTP {response.status_code}: {response.text[:200]}")
        return response.elapsed.total_seconds()  # request sent -> response headers parsed

    with ThreadPoolExecutor(concurrency) as pool:
        while (job := conn.recv()) is not None:
            url, bodies = job
            t0 = time.perf_counter()
            conn.send((list(pool.map(one, repeat(url), bodies)), time.perf_counter() - t0))


class _Recorder(SlackDriver):
    """The driver's own slash-command forms (fresh response_url and trigger_id each), kept, not sent."""

    def send(self, body: str, content_type: str, **_: Any) -> Any:
        self.bodies.append(body)

    def forms(self, n: int, text: str) -> list[str]:
        self.bodies: list[str] = []
        for _ in range(n):
            self.command(ONCALL, text)
        return self.bodies


def summary(samples: list[float], seconds: float) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": statistics.median(samples), "p90": cuts[89], "p99": cuts[98], "max": max(samples),
            "in_flight": sum(samples) / seconds, "rate": len(samples) / seconds}


def run(requests_per_app: int, concurrency: int, text: str) -> tuple[dict, dict, dict]:
    world = World(prometheus=False).start()
    spawn = multiprocessing.get_context("spawn")  # not fork: this process already runs threads
    servers, servers_conn = spawn.Pipe()
    load, load_conn = spawn.Pipe()
    children = [spawn.Process(target=serve_apps, args=(world.env(), servers_conn), name="servers", daemon=True),
                spawn.Process(target=send_load, args=(load_conn, concurrency), name="load", daemon=True)]
    for child in children:
        child.start()
    recorder = _Recorder(world.slack, "", SANDBOX_SIGNING_SECRET)
    sent = {"bot": 0}
    samples: dict[str, list[float]] = {"bot": [], "bare": []}
    batches: list[float] = []  # p99 bot / bare of each pair of batches
    seconds = {"bot": 0.0, "bare": 0.0}
    replied = lambda: len(world.slack.response_log) >= sent["bot"]  # noqa: E731 - the bot's respond() posts

    def batch(url: str, name: str, n: int) -> tuple[list[float], float]:
        load.send((url, recorder.forms(n, text)))
        result = load.recv()
        sent["bot"] += n if name == "bot" else 0
        wait_for("the bot's replies", replied, timeout=60, interval=0.02)
        return result

    try:
        urls = dict(zip(("bot", "bare"), servers.recv(), strict=True))
        for name, url in urls.items():
            batch(url, name, WARMUP)
        for i in range(BATCHES):
            p99 = {}
            for name in ("bot", "bare") if i % 2 == 0 else ("bare", "bot"):
                latencies, took = batch(urls[name], name, requests_per_app // BATCHES)
                samples[name] += latencies
                seconds[name] += took
                p99[name] = summary(latencies, took)["p99"]
            batches.append(p99["bot"] / p99["bare"])
        replies = sum(1 for r in world.slack.responses() if r.get("response_type") == "ephemeral")
    finally:
        for conn, word in ((load, None), (servers, "stop")):
            with suppress(OSError):  # a child that died already (its traceback is on stderr)
                conn.send(word)
        for child in children:
            child.join(15)
        world.stop()
    return summary(samples["bot"], seconds["bot"]), summary(samples["bare"], seconds["bare"]), \
        {"replies": replies, "sent": sent["bot"], "batches": batches}


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 500
    concurrency = int(argv[1]) if len(argv) > 1 else 20
    text = argv[2] if len(argv) > 2 else "help"
    t0 = time.perf_counter()
    ours, theirs, extra = run(n, concurrency, text)
    print(f"/rollback {text!r}: {n} requests per app, {concurrency} concurrent, {BATCHES} interleaved batches"
          f" after {WARMUP} warm-up each; apps on waitress threads={THREADS} in one server process;")
    print(f"load in its own process; sandbox without Prometheus. Bot replies through response_url: "
          f"{extra['replies']}/{extra['sent']}. Took {time.perf_counter() - t0:.0f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    print(f"{'ack latency (ms)':<22}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'req/s':>8}{'in flight':>10}")
    for name, s in (("rollback-bot", ours), ("bare Bolt (ack only)", theirs)):
        print(f"{name:<22}" + "".join(f"{s[k] * 1000:8.1f}" for k in ("p50", "p90", "p99", "max"))
              + f"{s['rate']:8.0f}{s['in_flight']:10.1f}")
    r50, r99 = ours["p50"] / theirs["p50"], ours["p99"] / theirs["p99"]
    worst = max(extra["batches"])
    print(f"ratio bot/bare: p50 {r50:.2f}  p99 {r99:.2f}; p99 per batch: "
          + " ".join(f"{r:.2f}" for r in extra["batches"])
          + f"; target p99 <= {TARGET} in every batch: {'met' if max(worst, r99) <= TARGET else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
