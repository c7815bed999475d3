"""RDS in the sandbox's moto: a DB instance to snapshot (``seed_instance``), and a hook that keeps snapshots
``creating`` (``hold_snapshots``) for the deadline test. Kept apart from the other AWS models."""

from __future__ import annotations

import boto3

from bot.sandbox.aws import REGION, AwsFront, credentials_env
from bot.sandbox.httpserver import Request, Response


def seed_instance(endpoint_url: str, name: str = "shopping-db", engine: str = "mysql", gib: int = 20) -> dict:
    env = credentials_env(endpoint_url)
    rds = boto3.client(
        "rds", endpoint_url=endpoint_url, region_name=REGION,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    return rds.create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine=engine, AllocatedStorage=gib,
        MasterUsername="admin", MasterUserPassword="sandbox-password",
    )["DBInstance"]  # fmt: skip


def hold_snapshots(front: AwsFront) -> None:
    """From now on every snapshot reads ``creating`` (as a large one does for a while)."""

    def creating(request: Request, forward) -> Response:
        answer = forward(request)
        body = answer.body if isinstance(answer.body, bytes) else b"".join(answer.body)
        return Response(answer.status, body.replace(b"<Status>available</Status>", b"<Status>creating</Status>"),
                        answer.headers)  # fmt: skip

    front.hooks["rds:DescribeDBSnapshots"] = creating
