"""Reading signals from a Prometheus that wants TLS and a login (Grafana Cloud, a gateway in front of it): the real
server, started with a web config (bcrypt basic auth, a certificate signed by a CA made here)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path

import bcrypt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.config import ConfigError, PrometheusAuth, ServiceConfig, Settings
from bot.sandbox.httpserver import Request, Response, SandboxServer
from bot.sandbox.prometheus import PrometheusProcess
from bot.signals.metrics import MetricsReader
from tests.support import need_binary

USER, PASSWORD = "rollback-bot", "s3cret-prometheus-pw"
CONSTANT = ServiceConfig(name="shop", namespace="shop", queries={"error_rate": "vector(0.25)"})


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: (ca.pem, server.pem, server-key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """Real Prometheus over TLS (our CA) with basic auth; yields (process, CA file)."""
    need_binary("prometheus")
    ca, cert, key = make_certificates(tmp_path_factory.mktemp("tls"))
    web = {
        "tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
        "basic_auth_users": {USER: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()},
    }
    with PrometheusProcess({}, web_config=web, probe_auth=(USER, PASSWORD), probe_ca=str(ca)) as prometheus:
        yield prometheus, str(ca)


def test_the_bot_reads_signals_with_basic_auth_over_tls_from_its_ca(secured):
    prometheus, ca = secured
    assert prometheus.url.startswith("https://")
    reader = MetricsReader(prometheus.url, auth=PrometheusAuth(username=USER, password=PASSWORD, ca_file=ca))
    assert reader.read_one(CONSTANT, "error_rate").value == 0.25
    assert reader.read(CONSTANT)["error_rate"] == 0.25


def test_without_the_password_or_the_ca_the_reading_says_what_to_set(secured):
    prometheus, ca = secured
    no_login = MetricsReader(prometheus.url, auth=PrometheusAuth(ca_file=ca)).read_one(CONSTANT, "error_rate")
    assert no_login.value is None
    assert no_login.error == (
        f"{prometheus.url} refused the bot's credentials (HTTP 401): check PROMETHEUS_USERNAME and "
        "PROMETHEUS_PASSWORD, or PROMETHEUS_BEARER_TOKEN"
    )
    wrong = PrometheusAuth(username=USER, password="guessed", ca_file=ca)
    assert "HTTP 401" in MetricsReader(prometheus.url, auth=wrong).read_one(CONSTANT, "error_rate").error
    untrusted = MetricsReader(prometheus.url, auth=PrometheusAuth(username=USER, password=PASSWORD))
    assert untrusted.read_one(CONSTANT, "error_rate").error == (
        f"cannot verify the TLS certificate of {prometheus.url}: set PROMETHEUS_CA_FILE to the CA that signed it"
    )


def accepted_connections(prometheus: PrometheusProcess) -> int:
    status, body = prometheus.get("/metrics")
    assert status == 200
    found = re.search(rb'net_conntrack_listener_conn_accepted_total\{listener_name="http"\} (\d+)', body)
    return int(found.group(1))


def test_one_client_is_reused_so_reads_share_one_connection(secured):
    prometheus, ca = secured
    reader = MetricsReader(prometheus.url, auth=PrometheusAuth(username=USER, password=PASSWORD, ca_file=ca))
    reader.read_one(CONSTANT, "error_rate")  # the reader's connection, opened once
    before = accepted_connections(prometheus)
    for _ in range(10):
        assert reader.read_one(CONSTANT, "error_rate").value == 0.25
    # The only connection Prometheus accepted meanwhile is the probe's own (one per query was 10 more).
    assert accepted_connections(prometheus) - before == 1


def test_a_bearer_token_is_sent_to_a_gateway_in_front_of_prometheus(secured):
    prometheus, ca = secured
    upstream = requests.Session()
    upstream.auth = (USER, PASSWORD)

    def gateway(req: Request) -> Response:  # what a token-checking proxy (Grafana Cloud, an OAuth proxy) does
        if req.headers.get("authorization") != "Bearer the-token":
            return Response(401, b"Unauthorized\n", {"Content-Type": "text/plain"})
        answer = upstream.get(f"{prometheus.url}{req.path}", params=req.query, verify=ca, timeout=5)
        return Response(answer.status_code, answer.content, {"Content-Type": "application/json"})

    with SandboxServer(gateway) as server:
        good = MetricsReader(server.url, auth=PrometheusAuth(bearer_token="the-token"))
        assert good.read_one(CONSTANT, "error_rate").value == 0.25
        bad = MetricsReader(server.url, auth=PrometheusAuth(bearer_token="stale-token"))
        assert "refused the bot's credentials (HTTP 401)" in bad.read_one(CONSTANT, "error_rate").error


def test_the_settings_read_the_auth_and_refuse_half_of_it(tmp_path):
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    settings = Settings.from_env(
        {**base, "PROMETHEUS_USERNAME": USER, "PROMETHEUS_PASSWORD": PASSWORD, "PROMETHEUS_CA_FILE": str(ca)}
    )
    assert settings.prometheus_auth == PrometheusAuth(username=USER, password=PASSWORD, ca_file=str(ca))
    assert PASSWORD not in repr(settings) and PASSWORD in settings.secrets()
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(
            {**base, "PROMETHEUS_USERNAME": USER, "PROMETHEUS_BEARER_TOKEN": "t", "PROMETHEUS_CA_FILE": "/nope.pem"}
        )
    assert refused.value.errors == [
        "PROMETHEUS_BEARER_TOKEN and PROMETHEUS_USERNAME/PASSWORD: set one way to log in, not both",
        "PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD: basic auth needs both",
        "PROMETHEUS_CA_FILE: no such file '/nope.pem'",
    ]
