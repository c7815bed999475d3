"""``SwarmRollback``: the ``Strategy`` protocol on a Docker Swarm service, through the ``docker`` SDK.

*Roll back to previous* is the Engine's own rollback (``POST /services/{id}/update?rollback=previous``, what
``docker service rollback`` sends): the service goes back to its ``PreviousSpec`` under its ``RollbackConfig``.
A chosen revision is a spec the bot recorded (every spec it sees: image, env, update config), written with
``service update`` at the ``Version.Index`` the plan was made against, so a concurrent change fails with the
Engine's "update out of sequence". The wait follows the tasks and ``UpdateStatus`` until ``completed`` or
``rollback_completed``; ``paused`` and ``rollback_paused`` are failures in the Engine's words.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from docker.errors import create_api_error_from_http_exception
from requests.exceptions import HTTPError

from bot.providers.docker.engine import EngineError, call
from bot.providers.docker.swarm import rules
from bot.providers.docker.swarm.options import SwarmOptions
from bot.providers.docker.swarm.spec import SPEC
from bot.strategies.base import Check, ConcurrentChange, Plan, Progress, Revision, RollbackError, Target, Verification
from bot.strategies.options import from_options
from bot.strategies.registry import Connections
from bot.strategies.versions import VersionStore

NOTHING_CHANGED = "nothing was changed"
KIND = "SwarmSpec"
POLL_SECONDS = 1.0


class SwarmRollback:
    name = SPEC.name
    steps = SPEC.steps
    pre_check_detail = "the service is there and its spec is the one the plan was made against"

    def __init__(self, clients: Connections, versions: VersionStore | None, clock: Any = time) -> None:
        self.clients, self.versions, self.clock = clients, versions, clock

    # -- reading ---------------------------------------------------------------------------------

    @staticmethod
    def _options(target: Target) -> SwarmOptions:
        return from_options(SwarmOptions, target.options)

    def _api(self, o: SwarmOptions) -> Any:
        return self.clients.docker(o.host, o.tls_ca, o.tls_cert, o.tls_key).api

    def _service(self, o: SwarmOptions, consequence: str = NOTHING_CHANGED) -> dict:
        service = call(o.where, consequence, self._api(o).inspect_service, o.service)
        self._record(o, service)
        return service

    def _tasks(self, o: SwarmOptions, service: dict) -> list[dict]:
        return call(
            o.where,
            "its tasks could not be read",
            self._api(o).tasks,
            filters={"service": service["ID"], "desired-state": "running"},
        )

    @staticmethod
    def _where(o: SwarmOptions) -> str:
        return "swarm:" + hashlib.sha256(o.host.encode()).hexdigest()[:16]

    def _record(self, o: SwarmOptions, service: dict) -> None:
        """Every spec seen, as the config tracker records a ConfigMap: the ``PreviousSpec`` when the bot never
        saw it, then the live ``Spec`` unless it is the newest recorded."""
        if self.versions is None:
            return
        index = str((service.get("Version") or {}).get("Index", ""))
        meta = {"namespace": self._where(o), "name": o.service}
        previous = service.get("PreviousSpec")
        seen = [v.data for v in self.versions.versions(meta["namespace"], KIND, o.service)]
        if previous and rules.recorded(previous) not in seen:
            self.versions.record(
                KIND, {"metadata": {**meta, "resourceVersion": f"{index}-previous"}, "data": rules.recorded(previous)}
            )
        self.versions.record(
            KIND, {"metadata": {**meta, "resourceVersion": index}, "data": rules.recorded(service["Spec"])}
        )

    def _recorded(self, o: SwarmOptions) -> list[tuple[int, dict, Any]]:
        """The recorded specs, numbered from 1, oldest first."""
        if self.versions is None:
            return []
        found = self.versions.versions(self._where(o), KIND, o.service)
        return [(i, dict(v.data or {}), v.changed_at) for i, v in enumerate(found, 1)]

    def _numbered(self, o: SwarmOptions, service: dict) -> tuple[list[Revision], Revision, Revision | None]:
        """Each distinct recorded spec once, the live one, and the ``PreviousSpec``'s; a spec keeps the number it
        was first recorded under when it is seen again."""
        latest: dict[str, tuple[int, dict, Any]] = {}
        for number, data, when in self._recorded(o):
            latest.setdefault(json.dumps(data, sort_keys=True), (number, data, when))

        def of(spec: dict | None, fallback: int) -> Revision | None:
            if not spec:
                return None
            number, data, when = latest.get(
                json.dumps(rules.recorded(spec), sort_keys=True), (fallback, rules.recorded(spec), None)
            )
            return rules.revision(number, data, when)

        live, previous = of(service["Spec"], 2), of(service.get("PreviousSpec"), 1)
        others = [rules.revision(n, d, w) for n, d, w in sorted(latest.values(), key=lambda x: x[0])]
        return others, live, previous

    # -- the Strategy protocol -----------------------------------------------------------------

    def history(self, target: Target) -> list[Revision]:
        """Every recorded spec, then the ``PreviousSpec`` (the default target), then the live one."""
        o = self._options(target)
        others, live, previous = self._numbered(o, self._service(o))
        ends = [r for r in (previous, live) if r]
        return [r for r in others if r.number not in {e.number for e in ends}] + ends

    def plan(self, target: Target) -> Plan:
        o = self._options(target)
        service = self._service(o)
        others, current, previous = self._numbered(o, service)
        live = service["Spec"]
        if target.to_revision is None or (previous and target.to_revision == previous.number):
            if previous is None:
                raise RollbackError(
                    f"{o.where} has no PreviousSpec: it was never updated, so the Engine has "
                    "nothing to roll back to. Nothing was changed."
                )
            desired_spec, desired, kept = service["PreviousSpec"], previous, []
            operation = {"mode": "rollback"}
        else:
            chosen = next(((n, d) for n, d, _ in self._recorded(o) if n == target.to_revision), None)
            if chosen is None:
                shown = ", ".join(str(r.number) for r in others) or "none"
                raise RollbackError(
                    f"spec {target.to_revision} is not one the bot recorded for {o.where} "
                    f"(recorded: {shown}). Nothing was changed."
                )
            desired_spec, kept = rules.restored(live, chosen[1])
            desired, operation = rules.revision(chosen[0], chosen[1]), {"mode": "update", "spec": desired_spec}
        guard = str(service["Version"]["Index"])
        common = dict(strategy=self.name, target=target, current=current, desired=desired, guard=guard)
        if rules.image(desired_spec) == rules.image(live) and rules.env(desired_spec) == rules.env(live):
            return Plan(**common, skipped=f"already at {desired.version} with that env")
        return Plan(
            **common,
            changes=self._changes(o, live, desired_spec, operation["mode"]),
            warnings=tuple(self._warnings(service, kept)),
            operations=(operation,),
            summary=f"{'roll back' if operation['mode'] == 'rollback' else 'update'} {o.service} to {desired.version}",
        )

    @staticmethod
    def _changes(o: SwarmOptions, live: dict, desired: dict, mode: str) -> tuple[str, ...]:
        if mode == "rollback":
            move = (
                f"roll {o.where} back to its PreviousSpec (the Engine's rollback, as `docker service rollback`"
                f"), under its RollbackConfig: {rules.config_words(live.get('RollbackConfig') or {})}"
            )
        else:
            move = (
                f"update {o.where} to the recorded spec (as `docker service update`), guarded by its "
                f"Version.Index, under its UpdateConfig: {rules.config_words(live.get('UpdateConfig') or {})}"
            )
        return (move, *rules.changes(live, desired))

    @staticmethod
    def _warnings(service: dict, kept: list[str]) -> list[str]:
        status = service.get("UpdateStatus") or {}
        warnings = []
        if status.get("State") in ("updating", "rollback_started", *rules.PAUSED):
            warnings.append(f"the service's UpdateStatus is {status['State']} now ({status.get('Message', '')})")
        if kept:
            warnings.append(f"env {', '.join(kept)}: the bot keeps credentials only as a hash, so the live values stay")
        return warnings

    def target_print(self, plan: Plan) -> dict:
        """The image and env the plan moves to (the rollback's: the ``PreviousSpec`` read again)."""
        return rules.fingerprint(self._desired(plan, self._service(self._options(plan.target))))

    @staticmethod
    def _desired(plan: Plan, service: dict) -> dict:
        op = plan.operations[0] if plan.operations else {}
        if op.get("mode") == "update":
            return op["spec"]
        if plan.target_print and rules.fingerprint(service["Spec"]) == plan.target_print:
            return service["Spec"]  # the rollback landed: the PreviousSpec is what it replaced
        return service.get("PreviousSpec") or {}

    def is_applied(self, plan: Plan) -> bool:
        if not plan.operations:
            return False
        live = self._service(self._options(plan.target))["Spec"]
        return rules.fingerprint(live) == (plan.target_print or self.target_print(plan))

    def apply(self, plan: Plan) -> dict | None:
        """The Engine's rollback, or one ``service update`` to the recorded spec, at the plan's Version.Index."""
        if plan.skipped:
            return None
        o, op = self._options(plan.target), plan.operations[0]
        service = self._service(o)
        if self.is_applied(plan):
            return None
        if str(service["Version"]["Index"]) != plan.guard:
            raise self._changed(o, service)
        try:
            if op["mode"] == "rollback":
                return self._engine_rollback(o, service)
            return self._write(o, service, op["spec"])
        except EngineError as failed:
            if failed.out_of_sequence:
                raise self._changed(o, self._service(o), failed.said) from failed
            raise

    @staticmethod
    def _changed(o: SwarmOptions, service: dict, said: str = "") -> ConcurrentChange:
        engine = f" (the Engine said: {said})" if said else ""
        return ConcurrentChange(
            f"{o.where} changed after this plan was made: its Version.Index is now "
            f"{service['Version']['Index']} and it runs {rules.image(service['Spec'])}{engine}; "
            "nothing was rolled back. Review its new state and plan the rollback again."
        )

    def _engine_rollback(self, o: SwarmOptions, service: dict) -> dict:
        """``docker service rollback``: the SDK has no call for it, so its session posts what the CLI posts."""
        api = self._api(o)
        url = f"{api.base_url}/v{api.api_version}/services/{service['ID']}/update"

        def post() -> dict:
            answer = api.post(
                url,
                params={"version": service["Version"]["Index"], "rollback": "previous"},
                json=service["Spec"],
                timeout=api.timeout,
            )
            try:
                answer.raise_for_status()
            except HTTPError as exc:
                raise create_api_error_from_http_exception(exc) from exc
            return answer.json()

        return call(o.where, NOTHING_CHANGED, post)

    def _write(self, o: SwarmOptions, service: dict, spec: dict, consequence: str = NOTHING_CHANGED) -> dict:
        return call(
            o.where,
            consequence,
            self._api(o).update_service,
            service["ID"],
            service["Version"]["Index"],
            task_template=spec.get("TaskTemplate"),
            name=spec.get("Name"),
            labels=spec.get("Labels"),
            mode=spec.get("Mode"),
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
        )

    def wait(self, target: Target, progress: Callable[[Progress], None], timeout_seconds: float) -> None:
        """Until ``UpdateStatus`` is completed (rollback_completed) with every task on the target's image."""
        o, sent = self._options(target), "the rollback was sent; its progress could not be read"
        deadline, last = time.monotonic() + timeout_seconds, ""
        service = self._service(o, sent)
        rollback = False  # ours shows as "manually requested rollback"; another rollback_started is a failure
        want = rules.image(service["Spec"])
        while True:
            state = rules.update_state(service, self._tasks(o, service), want, rollback)
            if state.progress.message != last or state.done:
                progress(state.progress)
                last = state.progress.message
            if state.done:
                return
            if state.failure:
                raise RollbackError(
                    f":rotating_light: {o.where}: {state.failure}. {state.progress.message}; the "
                    "Engine leaves the service as it is until someone acts: see `docker service ps "
                    f"{o.service}` for the failed tasks, or choose another revision."
                )
            if time.monotonic() > deadline:
                status = service.get("UpdateStatus") or {}
                raise RollbackError(
                    f"{o.where} did not reach {'rollback_completed' if rollback else 'completed'} "
                    f"within the bot's deadline of {timeout_seconds:.0f} s: {state.progress.message},"
                    f" UpdateStatus {status.get('State', 'none')} ({status.get('Message', '')})."
                )
            self.clock.sleep(POLL_SECONDS)
            service = self._service(o, sent)

    def verify(self, plan: Plan) -> Verification:
        """What the Engine shows: the live image, the running tasks on it, and ``UpdateStatus``."""
        o = self._options(plan.target)
        service = self._service(o, "the rollback went out; its state could not be read")
        want = ((plan.target_print or {}).get("images") or {}).get("") or rules.image(service["Spec"])
        live = rules.image(service["Spec"])
        state = rules.update_state(service, self._tasks(o, service), want, rollback=True)
        status = (service.get("UpdateStatus") or {}).get("State", "none")
        return Verification(
            (
                Check("spec", live == want, f"live {live}" + ("" if live == want else f", wanted {want}")),
                Check("tasks", state.progress.updated == state.progress.desired > 0, state.progress.message),
                Check("update status", status in (*rules.DONE, "none"), f"UpdateStatus {status}"),
            )
        )

    def scale(self, target: Target, replicas: int) -> None:
        """Emergency: the service's replicas (0: every task stops), at its Version.Index now."""
        o = self._options(target)
        service = self._service(o)
        spec = {**service["Spec"], "Mode": {"Replicated": {"Replicas": replicas}}}
        self._write(o, service, spec)
