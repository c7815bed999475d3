"""The steps that keep a rollback from doing harm, end to end: a backup Job before crossing migrations (a failed
one refuses the rollback), and GitOps sync suspended so Argo CD does not put the bad release back."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client, config

from bot.sandbox.harness import OnCall, wait_for
from bot.sandbox.k8s.gitops import INTERVAL
from bot.sandbox.scenario import load_scenario
from bot.sandbox.world import World
from bot.slack.views import ActionId
from tests.e2e.conftest import QUICK_BAKE
from tests.e2e.test_strategies import OUTCOMES, kinds, postmortem, prefix
from tests.support import need_binary

SCENARIO = Path(__file__).parent.parent / "scenarios" / "safety.yaml"


@pytest.fixture
def world():
    need_binary("prometheus")
    with World(load_scenario(SCENARIO), prometheus=True, catalog_overrides=QUICK_BAKE) as w:
        yield w


def _api(world: World) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(world.kubeconfig))


def image(world: World, name: str, namespace: str) -> str:
    deployment = client.AppsV1Api(_api(world)).read_namespaced_deployment(name, namespace)
    return deployment.spec.template.spec.containers[0].image


def application(world: World) -> dict:
    api = client.CustomObjectsApi(_api(world))
    return api.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "orders")


def jobs(world: World, namespace: str) -> list[client.V1Job]:
    return client.BatchV1Api(_api(world)).list_namespaced_job(namespace).items


def test_backup_then_suspended_sync_then_rollback_that_argo_cd_does_not_undo(world, bot, alice):
    alice.type("orders checkout failing")
    channel = alice.channel(prefix("orders"))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert "Nothing has changed yet" in plan
    assert "first, run the backup Job (registry.local/pg-backup:ok" in plan and "the rollback is refused" in plan
    assert "may meet a schema the current one migrated" in plan
    assert "https://wiki.example.com/runbooks/orders-migrations" in plan
    assert "managed by GitOps (Argo CD Application argocd/orders)" in plan
    assert application(world)["spec"]["syncPolicy"]["automated"], "nothing changes before Confirm"
    assert jobs(world, "orders") == []

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    done = alice.message_saying(channel.id, *OUTCOMES, timeout=120)
    assert "is back on" in done["text"] and "v1" in done["text"], done["text"]
    assert "Sync of the Argo CD Application argocd/orders is suspended" in done["text"]
    assert "automated" not in (application(world)["spec"].get("syncPolicy") or {})
    (job,) = jobs(world, "orders")
    assert job.status.succeeded == 1
    # several of Argo CD's sync intervals later, the rollback still stands
    world.clock.sleep(3 * INTERVAL)
    assert image(world, "orders", "orders") == "registry.local/orders:v1"
    seen = kinds(bot, channel.id)
    assert seen.index("backup") < seen.index("gitops_suspended") < seen.index("patched"), seen

    alice.click(channel.id, ActionId.RESUME_SYNC)
    alice.message_saying(channel.id, "turned sync of the Argo CD Application argocd/orders back on", timeout=20)
    assert application(world)["spec"]["syncPolicy"]["automated"]["selfHeal"] is True
    # Git still says v2 (nobody committed the rollback): the warning on the button was right
    wait_for("Argo CD to apply Git again", lambda: image(world, "orders", "orders") == "registry.local/orders:v2", 30)

    markdown = postmortem(world, alice, channel.id)
    assert "Revert the change in Git, then re-enable sync of the Argo CD Application argocd/orders" in markdown
    strategy = markdown.split("## Strategy\n", 1)[1].split("\n## ", 1)[0]
    assert "backup" in strategy.lower() and "suspended" in strategy


def test_a_failed_backup_refuses_the_rollback_and_changes_nothing(world, bot, alice):
    alice.type("payments errors")
    channel = alice.channel(prefix("payments"))
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert "no backup_job is configured" not in world.slack.transcript(channel.id)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    failed = alice.message_saying(channel.id, "The rollback of payments FAILED", timeout=90)
    assert "FAILED at backup" in failed["text"], failed["text"]
    assert "the rollback is refused, as the plan said" in failed["text"]
    assert "kubectl logs job/rollback-backup-payments-" in failed["text"]
    assert image(world, "payments", "payments") == "registry.local/payments:v2"
    (job,) = jobs(world, "payments")
    assert job.status.failed


def first_option(person: OnCall, channel_id: str, action_id: str) -> str:
    """The value of the first option of the select ``action_id`` on the newest message that shows it."""
    message = person.message_with(channel_id, action_id)
    elements = [e for b in message["blocks"] for e in b.get("elements") or [] if e.get("action_id") == action_id]
    return elements[0]["options"][0]["value"]


def test_a_second_rollback_in_the_incident_runs_a_fresh_backup(world, bot, alice):
    """The first run's backup Job failed; the second run does not adopt it: it starts a Job of its own."""
    alice.type("payments errors")
    channel = alice.channel(prefix("payments"))

    def failures() -> list[str]:
        return [m["text"] for m in world.slack.messages(channel.id) if "The rollback of payments FAILED" in m["text"]]

    for attempt in (1, 2):
        if attempt == 1:
            alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
        else:  # the failure card offers the revisions again
            alice.click(channel.id, ActionId.CHOOSE_REVISION, first_option(alice, channel.id, ActionId.CHOOSE_REVISION))
        alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
        alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
        bot.wait_for(f"failure number {attempt}", lambda n=attempt: len(failures()) >= n or None, 90)
    first, second = failures()
    assert "FAILED at backup" in first and "FAILED at backup" in second, second
    made = sorted(jobs(world, "payments"), key=lambda j: j.metadata.creation_timestamp)
    assert len(made) == 2, [j.metadata.name for j in made]
    assert all(j.status.failed for j in made), "each run's backup ran, and failed, on its own"
    for job, told in zip(made, (first, second), strict=True):
        assert job.metadata.name.endswith(f"-r{job.metadata.labels['rollback-bot/run']}"), job.metadata.name
        assert f"kubectl logs job/{job.metadata.name} " in told, told
    assert image(world, "payments", "payments") == "registry.local/payments:v2", "refused twice: nothing rolled back"
