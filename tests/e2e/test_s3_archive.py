"""The S3 archive (ARCHIVE_BUCKET) against moto in server mode: a resolved incident's postmortem (markdown) and
timeline (JSON) written with server-side encryption under incidents/YYYY/INC-…/, linked from the postmortem and
the resolve message; a missing bucket is reported by name and the postmortem is never lost."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.incidents.cards import incident_in_channel
from bot.sandbox.world import World
from bot.slack.views import ActionId
from tests.e2e.test_strategies import postmortem

BUCKET = "incident-archive"
ARCHIVE = {"ARCHIVE_BUCKET": BUCKET, "ARCHIVE_REGION": "us-east-1"}


@pytest.fixture
def world():
    with World(prometheus=False) as w:
        yield w


def declared(alice):
    alice.type("orders payment errors after deploy")
    channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-orders")
    alice.message_with(channel.id, ActionId.ROLLBACK_PREVIOUS)  # the card: the incident knows its channel now
    return channel


@pytest.mark.bot_env(ARCHIVE)
def test_a_resolved_incident_is_archived_encrypted_and_linked(world, bot, alice):
    s3 = world.aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    channel = declared(alice)
    markdown = postmortem(world, alice, channel.id)
    assert "s3:PutObject" in world.aws.front.calls  # the action docs/aws-iam-policy.json grants (s3-archive)
    key = incident_in_channel(bot.rt, channel.id).key
    prefix = f"incidents/{dt.datetime.now(dt.UTC).year}/{key}/"
    assert f"s3://{BUCKET}/{prefix}postmortem.md" in markdown and f"s3://{BUCKET}/{prefix}timeline.json" in markdown
    stored = s3.get_object(Bucket=BUCKET, Key=prefix + "postmortem.md")
    assert stored["ServerSideEncryption"] == "AES256"
    assert stored["Body"].read().decode() == markdown  # the archived postmortem is the one people got
    timeline = s3.get_object(Bucket=BUCKET, Key=prefix + "timeline.json")
    assert timeline["ServerSideEncryption"] == "AES256"
    body = json.loads(timeline["Body"].read())
    assert body["incident"] == key and [e["kind"] for e in body["events"]][0] == "declared"
    assert "resolved" in [e["kind"] for e in body["events"]]
    transcript = world.slack.transcript(channel.id)
    assert "Archived to S3 (encrypted)" in transcript and f"s3://{BUCKET}/{prefix}postmortem.md" in transcript
    assert (bot.rt.postmortem_dir / f"{key}.md").read_text() == markdown  # the local file: a cache of it


@pytest.mark.bot_env(ARCHIVE)
def test_a_missing_bucket_is_reported_by_name_and_the_postmortem_is_kept(world, bot, alice):
    channel = declared(alice)  # no bucket was created
    markdown = postmortem(world, alice, channel.id)
    key = incident_in_channel(bot.rt, channel.id).key
    assert "## Archive" not in markdown and "A bad release." in markdown
    transcript = world.slack.transcript(channel.id)
    assert f"the S3 archive failed: S3 bucket {BUCKET}" in transcript, transcript
    assert "the bucket was not found" in transcript and "Nothing is lost" in transcript
    assert incident_in_channel(bot.rt, channel.id).postmortem == markdown  # the bot's database holds it
    assert (bot.rt.postmortem_dir / f"{key}.md").read_text() == markdown
