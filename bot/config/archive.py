"""The S3 archive of resolved incidents, from the environment: ``ARCHIVE_BUCKET`` (unset: no archive),
``ARCHIVE_REGION`` (required with it), ``ARCHIVE_PREFIX`` (default ``incidents``), ``ARCHIVE_KMS_KEY`` (SSE-KMS
with that key; default SSE-S3, AES256) and ``ARCHIVE_PROFILE`` (an AWS named profile; default the credential
chain). Read by ``Settings.from_env``; written by ``bot.providers.aws.archive``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]{1,200}")


@dataclass(frozen=True)
class ArchiveSettings:
    bucket: str
    region: str
    prefix: str = "incidents"
    kms_key: str = ""
    profile: str = ""

    def key(self, year: int, incident_key: str, name: str) -> str:
        """``incidents/2026/INC-2026-001/postmortem.md``."""
        return f"{self.prefix.strip('/')}/{year}/{incident_key}/{name}"

    @classmethod
    def from_env(cls, get: Callable[[str], str | None], errors: list[str]) -> ArchiveSettings | None:
        bucket = get("ARCHIVE_BUCKET")
        if bucket is None:
            return None
        region, prefix = get("ARCHIVE_REGION"), get("ARCHIVE_PREFIX") or cls.prefix
        if not BUCKET.fullmatch(bucket) or ".." in bucket:
            errors.append(
                f"ARCHIVE_BUCKET: expected an S3 bucket name (3-63 lowercase letters, digits, '.' and '-'), "
                f"got {bucket!r}"
            )
        if region is None or not REGION.fullmatch(region):
            errors.append(f"ARCHIVE_REGION: expected the bucket's AWS region such as eu-west-1, got {region!r}")
        if not PREFIX.fullmatch(prefix):
            errors.append(f"ARCHIVE_PREFIX: expected an S3 key prefix such as incidents, got {prefix!r}")
        return cls(bucket, region or "", prefix, get("ARCHIVE_KMS_KEY") or "", get("ARCHIVE_PROFILE") or "")
