"""Secret fingerprints are keyed (pure): the key is required to track Secrets, and a short one is refused."""

from __future__ import annotations

import hashlib

import pytest

from bot.config import ConfigError, Settings
from bot.strategies.versions import PLAIN, SECRETS_NOT_TRACKED, Fingerprints

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
VALUES = {"token": "aHVudGVyMg=="}


def test_a_secret_hash_is_keyed_and_a_configmap_hash_is_plain():
    one, other = Fingerprints(b"a" * 32), Fingerprints(b"b" * 32)
    plain = hashlib.sha256(VALUES["token"].encode()).hexdigest()[:12]
    assert one.key_hashes("Secret", VALUES)["token"] != plain, "a guess cannot be checked without the key"
    assert one.data_hash("Secret", VALUES) != other.data_hash("Secret", VALUES)
    assert one.key_id("Secret") != other.key_id("Secret") and one.key_id("ConfigMap") == ""
    assert one.key_hashes("ConfigMap", VALUES)["token"] == plain == PLAIN.key_hashes("ConfigMap", VALUES)["token"]


def test_without_a_key_secrets_are_not_tracked_and_nothing_is_hashed():
    assert PLAIN.tracks("ConfigMap") and not PLAIN.tracks("Secret")
    with pytest.raises(ValueError, match="CONFIG_FINGERPRINT_KEY is unset"):
        PLAIN.data_hash("Secret", VALUES)
    assert "openssl rand -hex 32" in SECRETS_NOT_TRACKED


def test_the_key_is_read_from_the_environment_and_a_short_one_stops_the_start():
    assert Settings.from_env(BASE).config_fingerprint_key is None
    key = "k" * 64
    settings = Settings.from_env({**BASE, "CONFIG_FINGERPRINT_KEY": key})
    assert settings.config_fingerprint_key == key and key not in repr(settings)
    with pytest.raises(ConfigError, match="CONFIG_FINGERPRINT_KEY: expected at least 32 characters"):
        Settings.from_env({**BASE, "CONFIG_FINGERPRINT_KEY": "short"})
