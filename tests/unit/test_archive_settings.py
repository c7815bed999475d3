"""ARCHIVE_*: the S3 archive's settings, checked at start (a bad bucket or region stops the bot with words)."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings
from bot.config.archive import ArchiveSettings
from tests.unit.test_config import ENV


def test_no_bucket_is_no_archive_and_a_bucket_needs_its_region():
    assert Settings.from_env(ENV).archive is None
    s = Settings.from_env({**ENV, "ARCHIVE_BUCKET": "acme-incidents", "ARCHIVE_REGION": "eu-west-1"}).archive
    assert s == ArchiveSettings("acme-incidents", "eu-west-1")
    assert s.key(2026, "INC-2026-007", "postmortem.md") == "incidents/2026/INC-2026-007/postmortem.md"
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**ENV, "ARCHIVE_BUCKET": "Acme_Incidents", "ARCHIVE_PREFIX": "a b"})
    assert caught.value.errors == [
        "ARCHIVE_BUCKET: expected an S3 bucket name (3-63 lowercase letters, digits, '.' and '-'), "
        "got 'Acme_Incidents'",
        "ARCHIVE_REGION: expected the bucket's AWS region such as eu-west-1, got None",
        "ARCHIVE_PREFIX: expected an S3 key prefix such as incidents, got 'a b'",
    ]


def test_a_kms_key_and_a_prefix_are_kept():
    env = {
        **ENV,
        "ARCHIVE_BUCKET": "acme-incidents",
        "ARCHIVE_REGION": "eu-west-1",
        "ARCHIVE_PREFIX": "ops/inc/",
        "ARCHIVE_KMS_KEY": "alias/incidents",
    }
    s = Settings.from_env(env).archive
    assert (
        s.kms_key == "alias/incidents" and s.key(2026, "INC-1", "timeline.json") == "ops/inc/2026/INC-1/timeline.json"
    )
