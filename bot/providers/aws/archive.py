"""The S3 archive of a resolved incident: its postmortem (markdown) and its timeline (JSON) written with
server-side encryption under ``<prefix>/YYYY/INC-…/`` (``ARCHIVE_*``, ``bot.config.archive``).

The bot's database keeps the postmortem and the file under POSTMORTEM_DIR is a cache: a failed write raises an
``AwsError`` naming the bucket and the permission, and the caller reports it without losing anything.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.config.archive import ArchiveSettings
from bot.providers.aws.errors import call

IAM = ("s3:PutObject",)  # with ARCHIVE_KMS_KEY the role also needs kms:GenerateDataKey on that key
POSTMORTEM, TIMELINE = "postmortem.md", "timeline.json"
TYPES = {POSTMORTEM: "text/markdown; charset=utf-8", TIMELINE: "application/json"}


class S3Archive:
    def __init__(self, settings: ArchiveSettings, clients: Any) -> None:
        self.settings = settings
        self.clients = clients

    def locations(self, year: int, incident_key: str) -> dict[str, tuple[str, str]]:
        """Each object's ``s3://`` URI and its S3 console link, by file name."""
        s = self.settings
        found = {}
        for name in (POSTMORTEM, TIMELINE):
            key = s.key(year, incident_key, name)
            console = f"https://s3.console.aws.amazon.com/s3/object/{s.bucket}?region={s.region}&prefix={quote(key)}"
            found[name] = (f"s3://{s.bucket}/{key}", console)
        return found

    def write(self, year: int, incident_key: str, files: dict[str, str]) -> None:
        """Put each file (name -> text) with SSE (KMS with the configured key, else AES256); the timeline first,
        so a postmortem in S3 always has its timeline beside it."""
        s = self.settings
        client = self.clients.aws(s.profile or None, s.region).client("s3")
        encryption: dict[str, str] = {"ServerSideEncryption": "AES256"}
        if s.kms_key:
            encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": s.kms_key}
        for name in sorted(files, key=lambda n: n != TIMELINE):
            key = s.key(year, incident_key, name)
            call(
                client,
                "put_object",
                f"S3 bucket {s.bucket} (object {key}, {s.region})",
                "the incident is not archived in S3; the bot still holds its postmortem",
                Bucket=s.bucket,
                Key=key,
                Body=files[name].encode(),
                ContentType=TYPES.get(name, "application/octet-stream"),
                **encryption,
            )
