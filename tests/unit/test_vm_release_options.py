"""The catalog's checks of a ``vm-release`` service: file:line errors, host keys required, ALB not yet."""

from __future__ import annotations

from bot.config import load_catalog
from tests.unit.test_registry import errors_of, write

SERVICE = """
services:
  shopping-vm:
    strategy: vm-release
    health_url: http://lb.internal/actuator/health
    owners: [U_OWNER]
    options:
      hosts:
        - {{name: web-1, address: 10.0.1.11, health_url: "http://10.0.1.11:8080/actuator/health"}}
        - {{name: web-2, address: 10.0.1.12, port: 2222, health_url: "http://10.0.1.12:8080/actuator/health"}}
      release_dir: /srv/shopping/releases
      current: /srv/shopping/current
      unit: shopping.service
      user: deploy
      key_file: /etc/rollback-bot/ssh/id_ed25519
{known}      load_balancer: {{type: {lb}, runtime_api: "unix:///run/haproxy/admin.sock", backend: shopping}}
"""
KNOWN = "      known_hosts_file: /etc/rollback-bot/ssh/known_hosts\n"


def test_a_vm_release_service_is_read_with_its_hosts_and_balancer(tmp_path):
    service = load_catalog(write(tmp_path, SERVICE.format(known=KNOWN, lb="haproxy"))).services["shopping-vm"]
    o = service.options
    assert [(h.name, h.port) for h in o.hosts] == [("web-1", 22), ("web-2", 2222)]
    assert o.load_balancer.backend == "shopping" and o.access.known_hosts_file.endswith("known_hosts")


def test_without_known_hosts_the_service_is_refused_the_bot_never_trusts_an_unknown_key(tmp_path):
    [error] = errors_of(write(tmp_path, SERVICE.format(known="", lb="haproxy")))
    assert "services.shopping-vm.options.known_hosts: missing" in error and "never trusts a host key" in error


def test_the_alb_driver_is_refused_as_not_available_yet(tmp_path):
    [error] = errors_of(write(tmp_path, SERVICE.format(known=KNOWN, lb="alb")))
    assert error.endswith("options.load_balancer.type: the AWS ALB driver is not available yet (use haproxy)")
    assert "services.yaml:16:" in error  # the line of the load_balancer
