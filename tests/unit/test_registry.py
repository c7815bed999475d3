"""The strategy registry: the built-in strategies come from entry points, a plugin from ``register``, and the
catalog, the step table and the cards take their list from it."""

from __future__ import annotations

import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from bot.config import ConfigError, load_catalog
from bot.steps import COMMON, STEPS
from bot.strategies import registry
from bot.strategies.registry import SCALE_TO_ZERO, StrategySpec, UnknownStrategy
from tests.plugins.file_release import SPEC as FILE_RELEASE

ON_KUBERNETES = ("kubernetes", "statefulset", "blue-green", "canary", "config")
BUILT_IN = (*ON_KUBERNETES, "aws-ecs", "aws-alb", "swarm", "vm-release")


@pytest.fixture
def plugin():
    registry.register(FILE_RELEASE)
    yield FILE_RELEASE
    registry.unregister(FILE_RELEASE.name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    return caught.value.errors


def test_the_built_in_strategies_register_through_the_entry_point_group():
    names = {point.name for point in entry_points(group=registry.GROUP)}
    assert set(BUILT_IN) <= names
    assert registry.available() == BUILT_IN and registry.planned() == ()
    assert all(registry.spec(name).provider == "kubernetes" for name in ON_KUBERNETES)
    assert registry.spec("aws-ecs").provider == "aws" and registry.spec("aws-ecs").iam


def test_an_unknown_strategy_is_an_error_naming_the_available_ones():
    with pytest.raises(UnknownStrategy) as caught:
        registry.spec("helm")
    assert str(caught.value) == f"no strategy is named 'helm' (available: {', '.join(BUILT_IN)})"


def test_a_second_spec_under_a_registered_name_is_refused(plugin):
    registry.register(plugin)  # the same spec again: harmless
    with pytest.raises(ValueError, match="a strategy named 'kubernetes' is registered already"):
        registry.register(StrategySpec(name="kubernetes", provider="other", build=lambda ctx: None))
    assert registry.available() == (*BUILT_IN, "file-release")


def test_a_registered_plugin_is_a_strategy_the_catalog_accepts(tmp_path, plugin):
    path = write(
        tmp_path,
        """
        services:
          site:
            namespace: files
            rollback_allowed: [U0ONCALL1]
            strategy: file-release
            options: {root: /srv/site}
        """,
    )
    site = load_catalog(path).services["site"]
    assert site.options == plugin.options(root="/srv/site")


def test_a_plugins_options_are_validated_by_its_own_class_with_file_and_line(tmp_path, plugin):
    path = write(
        tmp_path,
        """
        services:
          site:
            namespace: files
            strategy: file-release
            options:
              root: srv/site
              roots: /srv
        """,
    )
    assert errors_of(path) == [
        f"{path}:6: services.site.options.root: expected an absolute path, got 'srv/site'",
        f"{path}:7: services.site.options.roots: unknown key (expected one of: root)",
    ]


def test_options_are_required_by_a_strategy_that_has_them_and_refused_by_one_that_has_none(tmp_path, plugin):
    path = write(
        tmp_path,
        """
        services:
          site:
            namespace: files
            strategy: file-release
          cart:
            namespace: shop
            options: {root: /srv}
        """,
    )
    assert errors_of(path) == [
        f"{path}:3: services.site.options: missing (strategy file-release needs it; see config/services.example.yaml)",
        f"{path}:7: services.cart.options: strategy kubernetes takes no options; remove it",
    ]


BLUE_GREEN = """
services:
  storefront:
    namespace: shop
    rollback_allowed: [U0ONCALL1]
    strategy: blue-green
    {key}:
      colours: {{blue: storefront-blue, green: storefront-green}}
      after_switch: scale_to_zero
"""


ALIASES = [("blue-green", "blue_green"), ("canary", "canary"), ("config", "config")]


@pytest.mark.parametrize(("strategy", "alias"), ALIASES)
def test_the_old_block_names_are_aliases_of_options(strategy, alias):
    assert alias in registry.spec(strategy).aliases


def test_an_old_block_name_reads_the_same_options_as_the_new_key(tmp_path):
    old = load_catalog(write(tmp_path, BLUE_GREEN.format(key="blue_green"))).services["storefront"]
    new = load_catalog(write(tmp_path, BLUE_GREEN.format(key="options"))).services["storefront"]
    assert old == new and old.options.colours == {"blue": "storefront-blue", "green": "storefront-green"}
    assert old.options.after_switch == "scale_to_zero"


def test_options_given_twice_are_refused(tmp_path):
    text = BLUE_GREEN.format(key="options") + "    blue_green: {colours: {blue: a, green: b}}\n"
    [error] = errors_of(write(tmp_path, text))
    assert error.endswith("services.storefront.blue_green: options is given too; keep one of them")


def test_the_step_table_is_the_common_steps_and_each_specs_own(plugin):
    assert set(COMMON) <= set(STEPS)
    for spec in registry.specs().values():
        assert set(spec.steps) <= set(STEPS), spec.name
        for name in spec.extra_steps:
            assert callable(STEPS[name])
    assert STEPS["check release files"].__module__ == "tests.plugins.file_release.steps"


def test_each_strategy_has_its_emergency_actions():
    assert registry.emergency("kubernetes") is SCALE_TO_ZERO and registry.emergency("statefulset") is SCALE_TO_ZERO
    assert registry.emergency("blue-green").stop == "Scale live colour to zero"
    assert registry.emergency("canary").choose is None
    assert registry.emergency("no-longer-registered") is SCALE_TO_ZERO


def test_the_rbac_rules_are_role_rules():
    rules = [rule.as_dict() for rule in registry.spec("blue-green").rbac]
    assert {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "patch"]} in rules
    assert all(
        set(r) == {"apiGroups", "resources", "verbs"}
        for name in ON_KUBERNETES
        for r in (rule.as_dict() for rule in registry.spec(name).rbac)
    )


def test_a_target_is_located_by_its_strategys_spec_never_as_kubernetes_by_default(plugin):
    from dataclasses import replace

    from bot.config import ServiceConfig
    from bot.incidents.common import target

    shop = ServiceConfig("shop", "shopping", deployment="shop-web", container="app")
    assert target(shop).locator == {"namespace": "shopping", "workload": "shop-web", "container": "app"}
    assert registry.check_by_hand("kubernetes", target(shop).locator) == (
        "`kubectl rollout status deployment/shop-web -n shopping`"
    )
    hosts = replace(
        FILE_RELEASE,
        name="host-release",
        locate=lambda s: {"host": f"{s.name}.internal"},
        check_by_hand="`ssh {host} readlink /srv/current`",
    )
    registry.register(hosts)
    try:
        on_hosts = target(ServiceConfig("ledger", "", strategy="host-release"))
        assert on_hosts.locator == {"host": "ledger.internal"}  # no namespace, no workload
        assert registry.check_by_hand("host-release", on_hosts.locator) == "`ssh ledger.internal readlink /srv/current`"
        assert target(ServiceConfig("ledger", "", strategy="file-release")).locator == {}  # a spec that names none
    finally:
        registry.unregister("host-release")
