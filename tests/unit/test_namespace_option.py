"""``namespace`` is a Kubernetes strategy's: required there, with the same file:line error as before, and not
asked of a strategy of another provider."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.config import ConfigError, load_catalog
from bot.incidents.common import target
from bot.strategies import registry
from tests.plugins.file_release import SPEC as FILE_RELEASE


@pytest.fixture
def plugin():
    registry.register(FILE_RELEASE)
    yield FILE_RELEASE
    registry.unregister(FILE_RELEASE.name)


def write(tmp_path: Path, strategy: str, options: str = "") -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            services:
              site:
                rollback_allowed: [U0ONCALL1]
                strategy: {strategy}
            """
        ).lstrip()
        + options
    )
    return path


def test_a_service_of_another_provider_needs_no_namespace(tmp_path, plugin):
    site = load_catalog(write(tmp_path, "file-release", "    options: {root: /srv/site}\n")).services["site"]
    assert site.namespace == ""
    assert target(site).service == "site"


def test_a_kubernetes_service_without_a_namespace_is_refused_with_file_and_line(tmp_path):
    path = write(tmp_path, "statefulset")
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    why = "required: the Kubernetes namespace the service runs in"
    assert caught.value.errors == [f"{path}:3: services.site.namespace: missing ({why})"]
