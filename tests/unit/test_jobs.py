"""The worker's periodic jobs: each runs at its own period, and one that raises does not stop the others."""

from __future__ import annotations

import logging

from bot.jobs import ONCE, Job, Schedule


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_job_runs_at_its_period():
    clock, ran = Clock(), []
    schedule = Schedule(
        [
            Job("start", ONCE, lambda: ran.append("start")),
            Job("sweep", 0, lambda: ran.append("sweep")),
            Job("reminders", 30, lambda: ran.append("reminders")),
        ],
        clock=clock,
    )
    passes = []
    for _ in range(4):  # passes at 0, 10, 20, 30 s
        passes.append(schedule.run_due())
        clock.now += 10
    assert passes == [
        ["start", "sweep", "reminders"],
        ["sweep"],
        ["sweep"],
        ["sweep", "reminders"],
    ]
    assert ran.count("start") == 1 and ran.count("reminders") == 2


def test_a_job_that_raises_is_logged_and_the_others_still_run(caplog):
    clock, ran = Clock(), []

    def broken() -> None:
        raise RuntimeError("database hiccup")

    schedule = Schedule([Job("broken", 5, broken), Job("sweep", 0, lambda: ran.append("sweep"))], clock=clock)
    with caplog.at_level(logging.ERROR, logger="bot.jobs"):
        assert schedule.run_due() == ["broken", "sweep"]
        clock.now += 5
        assert schedule.run_due() == ["broken", "sweep"], "tried again at its next period"
    assert ran == ["sweep", "sweep"]
    failures = [r for r in caplog.records if "'broken' failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info and "database hiccup" in str(r.exc_info[1]) for r in failures)
