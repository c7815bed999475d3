"""Settings from the environment and the services catalog: what an operator sees when it is wrong."""

from __future__ import annotations

import dataclasses
import json
import re
import textwrap
from pathlib import Path

import pytest

from bot.config import (
    ACTIONS_BY_KIND,
    SIGNALS,
    Action,
    Analysis,
    ConfigError,
    Kind,
    ServiceConfig,
    Settings,
    Thresholds,
    check_config,
    default_queries,
    load_catalog,
    promql_string,
    valid_k8s_name,
)
from bot.config import catalog as catalog_module
from bot.config.database import DatabaseRef
from bot.strategies import registry

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "services.example.yaml"
ENV = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s3cret"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    assert check_config(path)[0] == caught.value.errors
    return caught.value.errors


# ---------------------------------------------------------------------------- settings


def test_settings_defaults_from_a_minimal_environment():
    s = Settings.from_env(ENV)
    assert (s.slack_bot_token, s.slack_signing_secret) == ("xoxb-test", "s3cret")
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.database_url == "sqlite:///rollback-bot.db"
    assert s.catalog_path == "config/services.yaml"
    assert (s.port, s.rollback_deadline_seconds, s.postmortem_dir) == (3000, 600, "postmortems")
    assert s.slack_app_token is s.kubeconfig is s.prometheus_url is None
    assert not hasattr(s, "aws_endpoint_url")  # boto3 reads the standard AWS_ENDPOINT_URL itself


def test_settings_read_every_variable():
    env = {
        **ENV,
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "SLACK_APP_TOKEN": "xapp-1",
        "DATABASE_URL": "postgresql+psycopg://db/bot",
        "KUBECONFIG": "/tmp/kc",
        "PROMETHEUS_URL": "http://127.0.0.1:9090",
        "ROLLBACK_BOT_CONFIG": "/etc/bot/services.yaml",
        "PORT": "8080",
        "POSTMORTEM_DIR": "/tmp/pm",
        "ROLLBACK_DEADLINE_SECONDS": "120",
    }
    s = Settings.from_env(env)
    assert s.slack_api_url == "http://127.0.0.1:9/api/" and s.slack_app_token == "xapp-1"
    assert s.database_url.startswith("postgresql") and s.kubeconfig == "/tmp/kc"
    assert s.prometheus_url == "http://127.0.0.1:9090" and s.catalog_path == "/etc/bot/services.yaml"
    assert (s.port, s.rollback_deadline_seconds) == (8080, 120)
    assert s.postmortem_dir == "/tmp/pm"


def test_the_prometheus_scrape_interval_sets_the_shortest_verification_window():
    assert Settings.from_env(ENV).prometheus_scrape_interval == "15s"
    assert Settings.from_env({**ENV, "PROMETHEUS_SCRAPE_INTERVAL": "1s"}).prometheus_scrape_interval == "1s"
    with pytest.raises(ConfigError, match=r"PROMETHEUS_SCRAPE_INTERVAL: expected a duration such as 15s, got '1'"):
        Settings.from_env({**ENV, "PROMETHEUS_SCRAPE_INTERVAL": "1"})


def test_missing_slack_credentials_are_named_with_their_purpose():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"SLACK_SIGNING_SECRET": ""})  # empty counts as unset
    assert len(caught.value.errors) == 2
    assert caught.value.errors[0].startswith("SLACK_BOT_TOKEN is not set: the bot token")
    assert caught.value.errors[1].startswith("SLACK_SIGNING_SECRET is not set: the signing secret")


def test_a_bad_port_is_an_error_not_a_crash():
    with pytest.raises(ConfigError, match=r"PORT: expected a positive whole number, got 'http'"):
        Settings.from_env({**ENV, "PORT": "http"})


def test_secrets_stay_out_of_the_settings_repr():
    text = repr(Settings.from_env({**ENV, "SLACK_APP_TOKEN": "xapp-secret"}))
    assert "xoxb-test" not in text and "s3cret" not in text and "xapp-secret" not in text


# ------------------------------------------------------------------------ happy catalog


def test_the_example_catalog_loads():
    assert check_config(EXAMPLE) == ([], [])
    catalog = load_catalog(EXAMPLE)
    assert catalog.announcements_channel == "#incidents" and catalog.reminder_minutes == 30
    svc = catalog.get("shopping-service")
    assert svc is not None and catalog.get("no-such-service") is None
    assert (svc.namespace, svc.deployment, svc.container, svc.strategy) == (
        "shopping",
        "shopping-service",
        "app",
        "kubernetes",
    )
    assert svc.health_url == "http://127.0.0.1:8080/actuator/health"
    assert svc.owners == ("U0OWNER01",) and [s.name for s in svc.escalation] == [
        "rollback_failed",
        "database",
        "infrastructure",
        "company_wide",
    ]
    assert svc.escalation[0].page == ("U0LEAD001", "U0OWNER01") and svc.escalation[2].respond_within == 600
    assert svc.thresholds == Thresholds() and svc.analysis == Analysis()
    assert (svc.analysis.interval_seconds, svc.analysis.bake_seconds, svc.analysis.failure_limit) == (15, 60, 2)
    assert svc.thresholds.http_5xx_rate == 0.05  # verification's own 5xx limit
    queries = [svc.query(signal) for signal in SIGNALS]
    assert all('service="shopping-service",namespace="shopping"' in q for q in queries)
    assert "[5m]" in svc.query("http_5xx_rate")  # a live read uses the catalog's window ...
    assert "[42s]" in svc.query("http_5xx_rate", "42s")  # ... verification the time since the rollout
    assert svc.responders is None and not svc.private_channel


def test_who_may_roll_back():
    svc = load_catalog(EXAMPLE).get("shopping-service")
    assert svc.may_roll_back("U0ONCALL1") and svc.may_roll_back("U0OWNER01")
    assert not svc.may_roll_back("U0VIEWER1")
    anyone = ServiceConfig(name="cart", namespace="shop")  # the default is "*"
    assert anyone.may_roll_back("U0VIEWER1")


def test_the_example_documents_every_key():
    text = EXAMPLE.read_text()
    keys = [*catalog_module._TOP_KEYS, *catalog_module._SERVICE_KEYS, *(f.name for f in dataclasses.fields(Thresholds))]
    undocumented = [k for k in keys if not re.search(rf"^\s*(# *)?{re.escape(k)}:", text, re.MULTILINE)]
    assert undocumented == []


# -------------------------------------------------------------------------- permissions

OWNER, ONCALL, VIEWER, DECLARER = "U0OWNER01", "U0ONCALL1", "U0VIEWER1", "U0DECLARE"


def test_every_action_has_exactly_one_kind():
    grouped = [a for actions in ACTIONS_BY_KIND.values() for a in actions]
    assert sorted(grouped) == sorted(Action) and len(grouped) == len(set(grouped))
    assert Action.CONFIRM.kind is Kind.ROLLBACK and Action.DISMISS.kind is Kind.RESPOND
    assert Action.DECLARE.kind is Kind.ANYONE


@pytest.mark.parametrize("action", ACTIONS_BY_KIND[Kind.ROLLBACK])
def test_rollback_actions_need_rollback_allowed(action):
    svc = load_catalog(EXAMPLE).get("shopping-service")  # rollback_allowed: [U0ONCALL1, U0OWNER01]
    assert svc.may(action, ONCALL, DECLARER) and svc.may(action, OWNER, DECLARER)
    assert not svc.may(action, DECLARER, DECLARER)  # declaring does not make you a roller-back
    assert not svc.may(action, VIEWER, DECLARER)
    assert svc.who_may(action, DECLARER) == (ONCALL, OWNER)


@pytest.mark.parametrize("action", ACTIONS_BY_KIND[Kind.RESPOND])
def test_respond_actions_default_to_owners_rollback_allowed_and_the_declarer(action):
    svc = load_catalog(EXAMPLE).get("shopping-service")
    assert all(svc.may(action, user, DECLARER) for user in (OWNER, ONCALL, DECLARER))
    assert not svc.may(action, VIEWER, DECLARER)
    assert not svc.may(action, DECLARER, None)  # an alert-declared incident has no declarer
    assert svc.who_may(action, OWNER) == (OWNER, ONCALL)  # each named once, for "Only ... may"


def test_responders_replace_the_default(tmp_path):
    path = write(
        tmp_path,
        f"""
        services:
          cart:
            namespace: shop
            owners: [{OWNER}]
            rollback_allowed: [{ONCALL}]
            responders: [{VIEWER}]
          shop:
            namespace: shop
            rollback_allowed: [{ONCALL}]
            responders: "*"
        """,
    )
    cart, shop = load_catalog(path).get("cart"), load_catalog(path).get("shop")
    assert cart.responders == (VIEWER,)
    assert cart.may(Action.RESOLVE, VIEWER, DECLARER)
    assert not cart.may(Action.RESOLVE, OWNER, DECLARER) and not cart.may(Action.RESOLVE, DECLARER, DECLARER)
    assert cart.may(Action.ROLL_BACK, ONCALL, None) and not cart.may(Action.ROLL_BACK, VIEWER, None)
    assert shop.may(Action.STATUS_UPDATE, VIEWER, None) and not shop.may(Action.CONFIRM, VIEWER, None)


def test_when_anyone_may_roll_back_anyone_may_respond():
    anyone = ServiceConfig(name="cart", namespace="shop", owners=(OWNER,))  # rollback_allowed defaults to "*"
    assert anyone.may(Action.SCALE_TO_ZERO, VIEWER, None) and anyone.may(Action.DISMISS, VIEWER, None)
    assert anyone.who_may(Action.DISMISS, DECLARER) == ("*",)


def test_anyone_may_declare():
    locked = ServiceConfig(name="cart", namespace="shop", rollback_allowed=(ONCALL,), responders=(ONCALL,))
    assert locked.may(Action.DECLARE, VIEWER, None)


def test_bad_responders_and_private_channel_are_errors(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart:
            namespace: shop
            responders: [U0OK1, bob]
            private_channel: "yes"
        """,
    )
    assert errors_of(path) == [
        f"{path}:4: services.cart.responders[1]: expected Slack user ids, system:<name> or \"*\", got 'bob'",
        f"{path}:5: services.cart.private_channel: expected true or false, got 'yes'",
    ]


def test_private_channel(tmp_path):
    path = write(tmp_path, "services:\n  cart: {namespace: shop, private_channel: true}\n  shop: {namespace: shop}\n")
    catalog = load_catalog(path)
    assert catalog.get("cart").private_channel and not catalog.get("shop").private_channel


# ------------------------------------------------------------------------ warnings


def test_anyone_may_roll_back_is_a_warning_not_an_error(tmp_path):
    path = write(
        tmp_path,
        f"""
        services:
          cart:
            namespace: shop
          shop:
            namespace: shop
            rollback_allowed: "*"
          billing:
            namespace: shop
            rollback_allowed: [{ONCALL}, "*"]
          checkout:
            namespace: shop
            rollback_allowed: [{ONCALL}]
        """,
    )
    errors, warnings = check_config(path)
    assert errors == []
    assert warnings == [
        f"{path}:3: warning: services.cart.rollback_allowed: anyone in the workspace may roll back cart "
        "(the default); list who may, e.g. rollback_allowed: [U0ONCALL1, U0OWNER01]",
        f"{path}:6: warning: services.shop.rollback_allowed: anyone in the workspace may roll back shop; "
        "list who may, e.g. rollback_allowed: [U0ONCALL1, U0OWNER01]",
        f"{path}:9: warning: services.billing.rollback_allowed: anyone in the workspace may roll back billing; "
        "list who may, e.g. rollback_allowed: [U0ONCALL1, U0OWNER01]",
    ]
    catalog = load_catalog(path)  # the bot still starts
    assert list(catalog.warnings) == warnings and set(catalog.services) == {"cart", "shop", "billing", "checkout"}


def test_warnings_are_shown_alongside_errors(tmp_path):
    path = write(tmp_path, "services:\n  cart:\n    namespace: shop\n  shop:\n    namespace: Shop\n")
    errors, warnings = check_config(path)
    assert [e.split(": ")[1] for e in errors] == ["services.shop.namespace"]
    assert [w.split(": ")[2] for w in warnings] == ["services.cart.rollback_allowed", "services.shop.rollback_allowed"]


# ------------------------------------------------------------------------ strategies


@pytest.mark.parametrize("strategy", registry.planned())
def test_a_strategy_that_does_not_exist_yet_is_refused(tmp_path, strategy):
    path = write(tmp_path, f"services:\n  cart:\n    namespace: shop\n    strategy: {strategy}\n")
    assert errors_of(path) == [
        f"{path}:4: services.cart.strategy: the {strategy} strategy is not available yet "
        "(available: kubernetes, statefulset, blue-green, canary, config); "
        "use one of those, or leave the service out of the catalog until it is"
    ]


def test_an_unknown_strategy_lists_the_available_ones(tmp_path):
    path = write(tmp_path, "services:\n  cart:\n    namespace: shop\n    strategy: helm\n")
    [error] = errors_of(path)
    assert error.endswith(
        "services.cart.strategy: expected kubernetes or statefulset or blue-green or canary or config or aws-ecs "
        "or aws-alb or swarm or vm-release, got 'helm'"
    )


BLUE_GREEN = """services:
  storefront:
    namespace: shop
    strategy: blue-green
    blue_green:
      selector_key: version
      colours: {blue: storefront-blue, green: storefront-green}
      virtual_service: storefront
      after_switch: scale_to_zero
"""


def test_a_blue_green_service_reads_its_block(tmp_path):
    service = load_catalog(write(tmp_path, BLUE_GREEN)).services["storefront"]
    bg = service.options
    assert bg.colours == {"blue": "storefront-blue", "green": "storefront-green"}
    assert (bg.service, bg.selector_key, bg.virtual_service, bg.after_switch) == (
        "",
        "version",
        "storefront",
        "scale_to_zero",
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("      colours: {blue: storefront-blue, green: storefront-green}\n", "", "colours", "missing"),
        ("green: storefront-green}", "green: g, red: r}", "colours", "expected two colours, got 3"),
        ("after_switch: scale_to_zero", "after_switch: drop", "after_switch", "expected keep or scale_to_zero or"),
        ("virtual_service: storefront", "virtual_service: Store_Front", "virtual_service", "expected a Kubernetes"),
    ],
)
def test_a_wrong_blue_green_block_is_refused(tmp_path, old, new, field, message):
    [error] = errors_of(write(tmp_path, BLUE_GREEN.replace(old, new)))
    assert f"services.storefront.blue_green.{field}: {message}" in error


def test_a_strategy_without_its_block_is_refused(tmp_path):
    path = write(tmp_path, "services:\n  cart:\n    namespace: shop\n    strategy: canary\n")
    [error] = errors_of(path)
    assert "services.cart.options: missing (strategy canary needs it" in error


def test_a_block_of_another_strategy_is_refused(tmp_path):
    path = write(tmp_path, "services:\n  cart:\n    namespace: shop\n    canary: {stable: a, canary: b}\n")
    [error] = errors_of(path)
    assert "services.cart.canary: only used with strategy: canary; remove it" in error


@pytest.mark.parametrize(
    ("steps", "ok"), [("[75, 50, 25, 10, 0]", True), ("[50, 0]", True), ("[50, 60, 0]", False), ("[50, 10]", False)]
)
def test_canary_steps_fall_to_zero(tmp_path, steps, ok):
    text = (
        "services:\n  checkout:\n    namespace: shop\n    strategy: canary\n"
        f"    canary: {{stable: checkout-stable, canary: checkout-canary, steps: {steps}}}\n"
    )
    if ok:
        canary = load_catalog(write(tmp_path, text)).services["checkout"].options
        assert canary.steps == tuple(int(x) for x in steps.strip("[]").split(","))
        assert (canary.stable, canary.canary, canary.after) == ("checkout-stable", "checkout-canary", "scale_to_zero")
    else:
        [error] = errors_of(write(tmp_path, text))
        assert "services.checkout.canary.steps: expected falling canary weights (0-99) ending with 0" in error


def test_defaults_overrides_and_templated_queries(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart:
            namespace: shop
            rollback_allowed: "*"
            window: 30s
            thresholds: {latency_p95: 2, restarts: 3, memory_for: 5m}
            queries:
              latency_p95: histogram_quantile(0.99, sum by (le) (rate(lat_bucket{$selector}[$window])))
        """,
    )
    catalog = load_catalog(path)
    svc = catalog.get("cart")
    assert catalog.announcements_channel is None and catalog.reminder_minutes == 30
    assert (svc.deployment, svc.container, svc.strategy) == ("cart", None, "kubernetes")
    assert not svc.require_approval and not svc.db_migrations
    assert svc.rollback_allowed == ("*",)
    assert (svc.thresholds.latency_p95, svc.thresholds.restarts, svc.thresholds.memory_for) == (2, 3, "5m")
    assert svc.thresholds.error_rate == 0.05
    assert svc.query("latency_p95") == (
        'histogram_quantile(0.99, sum by (le) (rate(lat_bucket{service="cart",namespace="shop"}[30s])))'
    )
    assert svc.query("latency_p95", "17s").endswith("[17s])))")  # overrides take a verification window too
    assert "[30s]" in svc.query("error_rate")  # the service's window reaches the default queries
    assert "[10m]" in svc.query("restarts", "17s")  # restarts count over the trigger's own window
    assert svc.query("no-such-signal") is None


def test_the_verification_analysis_per_service(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart:
            namespace: shop
            analysis: {interval: 30s, bake: 5m, failure_limit: 3}
            thresholds: {http_5xx_rate: 0.01}
          shop:
            namespace: shop
            analysis: {bake: 2m}
        """,
    )
    catalog = load_catalog(path)
    cart, shop = catalog.get("cart"), catalog.get("shop")
    assert (cart.analysis.interval_seconds, cart.analysis.bake_seconds, cart.analysis.failure_limit) == (30, 300, 3)
    assert cart.analysis.checks == 10 and cart.thresholds.http_5xx_rate == 0.01
    assert shop.analysis == Analysis(interval="15s", bake="2m", failure_limit=2)


def test_analysis_mistakes_name_file_line_and_field(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart:
            namespace: shop
            analysis:
              interval: 15 seconds
              bake: 1m
              failure_limit: 0
              bakes: 2
            thresholds: {http_5xx_rate: 5}
          shop:
            namespace: shop
            analysis: {interval: 2m, bake: 1m}
        """,
    )
    assert errors_of(path) == [
        f"{path}:5: services.cart.analysis.interval: expected a duration such as 5m, got '15 seconds'",
        f"{path}:7: services.cart.analysis.failure_limit: expected a positive whole number, got 0",
        f"{path}:8: services.cart.analysis.bakes: unknown key (expected one of: interval, bake, failure_limit)",
        f"{path}:9: services.cart.thresholds.http_5xx_rate: expected a number between 0 and 1, got 5",
        f"{path}:12: services.shop.analysis.interval: must not be longer than bake (1m)",
    ]


# ------------------------------------------------------------------------------ errors


def test_a_bad_type_names_file_line_and_field(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          shopping-service:
            namespace: shopping
            thresholds:
              error_rate: high
        """,
    )
    field = "services.shopping-service.thresholds.error_rate"
    assert errors_of(path) == [f"{path}:5: {field}: expected a number between 0 and 1, got 'high'"]


def test_an_unknown_key_is_an_error_not_a_silent_default(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          shopping-service:
            namespace: shopping
            thresholds:
              eror_rate: 0.2
            rollback_alowed: [U1]
        """,
    )
    errors = errors_of(path)
    assert len(errors) == 2
    assert errors[0].startswith(f"{path}:5: services.shopping-service.thresholds.eror_rate: unknown key")
    assert errors[1].startswith(f"{path}:6: services.shopping-service.rollback_alowed: unknown key")
    assert "rollback_allowed" in errors[1]  # the message lists what was meant


def test_invalid_names_are_rejected(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          Shopping_Service:
            namespace: shopping
          cart:
            namespace: ../../etc
            container: 'app"}'
        """,
    )
    errors = errors_of(path)
    assert errors[0].startswith(f"{path}:3: services.Shopping_Service: the service name must be a Kubernetes")
    assert errors[1] == (
        f"{path}:5: services.cart.namespace: expected a Kubernetes name (lowercase letters, digits and '-', "
        "at most 63 characters), got '../../etc'"
    )
    assert errors[2].startswith(f"{path}:6: services.cart.container: expected a Kubernetes name")


def test_a_missing_namespace_names_what_it_is_for(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          shopping-service:
            owners: [U0OWNER01]
        """,
    )
    why = "required: the Kubernetes namespace the service runs in"
    assert errors_of(path) == [f"{path}:3: services.shopping-service.namespace: missing ({why})"]


def test_every_error_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        """
        announcements_channel: incidents
        reminder_minutes: 0
        services:
          shopping-service:
            namespace: shopping
            strategy: helm
            owners: [U0OWNER01, alice]
            require_approval: "yes please"
            health_url: ftp://example
            queries: {latency: up}
            thresholds: {http_5xx_high: 0.6, restarts: 2.5, latency_high: -1, error_rate_for: 5 minutes}
          cart:
            namespace: shop
            thresholds: {http_5xx_high: 0.6}
        """,
    )
    fields = [e.split(": ")[1] for e in errors_of(path)]
    assert fields == [
        "announcements_channel",
        "reminder_minutes",
        "services.shopping-service.strategy",
        "services.shopping-service.owners[1]",
        "services.shopping-service.require_approval",
        "services.shopping-service.health_url",
        "services.shopping-service.queries.latency",
        "services.shopping-service.thresholds.restarts",
        "services.shopping-service.thresholds.latency_high",
        "services.shopping-service.thresholds.error_rate_for",
        "services.cart.thresholds.http_5xx_high",
    ]


def test_yaml_syntax_errors_and_unreadable_files(tmp_path):
    path = write(tmp_path, "services:\n  cart: {namespace: shop\n")
    [error] = errors_of(path)
    assert re.match(rf"{re.escape(str(path))}:3: \(yaml\): ", error)
    assert check_config(tmp_path / "missing.yaml")[0][0].startswith(f"{tmp_path / 'missing.yaml'}: cannot read")
    empty = errors_of(write(tmp_path, "# nothing yet\n"))
    assert empty == [f"{path}:1: (top level): the file is empty; expected a 'services' mapping"]
    assert errors_of(write(tmp_path, "- a list\n")) == [f"{path}:1: (top level): expected a mapping, got a list"]


def test_duplicate_keys_are_errors(tmp_path):
    path = write(tmp_path, "services:\n  cart:\n    namespace: shop\n    namespace: shop2\n")
    assert errors_of(path) == [f"{path}:4: services.cart.namespace: duplicate key"]


# ------------------------------------------------------------------------ names, PromQL


@pytest.mark.parametrize("name", ["shopping-service", "a", "a1", "x" * 63, "0day"])
def test_valid_kubernetes_names(name):
    assert valid_k8s_name(name)


@pytest.mark.parametrize("name", ["", "-a", "a-", "A", "a_b", "a.b", "../../etc", 'foo"}', "x" * 64, "a\n", None, 3])
def test_invalid_kubernetes_names(name):
    assert not valid_k8s_name(name)


STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def skeleton(query: str) -> str:
    """The query with every string literal blanked: what PromQL parses as code."""
    return STRING.sub('""', query)


def literals(query: str) -> list[str]:
    return [json.loads(f'"{m}"') for m in STRING.findall(query)]  # PromQL strings escape like JSON


@pytest.mark.parametrize("evil", ['x"} or vector(1) #', 'a\\"}) or vector(1) or up{b="', "a\nb", "\\"])
def test_label_values_cannot_inject_promql(evil):
    plain, hostile = ServiceConfig(name="svc", namespace="ns"), ServiceConfig(name=evil, namespace=evil)
    for signal in default_queries():
        query = hostile.query(signal, "1m")
        assert skeleton(query) == skeleton(plain.query(signal, "1m"))
        assert evil in literals(query)
    assert json.loads(promql_string(evil)) == evil


def test_templated_overrides_are_escaped_too():
    svc = ServiceConfig(name='x",a="', namespace="ns", queries={"memory": 'up{service="$service"}'})
    assert svc.query("memory") == 'up{service="x\\",a=\\""}'
    assert literals(svc.query("memory")) == ['x",a="']
    sneaky = ServiceConfig(name="svc", namespace="$window", queries={"memory": 'up{ns="$namespace"}'})
    assert sneaky.query("memory", "1m") == 'up{ns="$window"}', "a substituted value is never substituted again"


# ------------------------------------------------------------------ detection and auto-rollback


def test_detection_and_auto_rollback_defaults_and_values(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart: {namespace: shop}
          shop:
            namespace: shop
            rollback_allowed: [U0ONCALL1, system:auto-rollback]
            watch_minutes: 5
            watch_failures: 2
            auto_rollback: execute
            auto_rollback_grace: 30s
            min_good_minutes: 0
            flap_guard: 2h
          calm: {namespace: shop, auto_rollback: off}
        """,
    )
    services = load_catalog(path).services
    cart, shop = services["cart"], services["shop"]
    assert (cart.watch_minutes, cart.watch_failures, cart.auto_rollback) == (10, 3, "off")
    assert (cart.auto_rollback_grace, cart.min_good_minutes, cart.flap_guard) == ("2m", 30, "1h")
    assert (shop.watch_minutes, shop.watch_failures, shop.auto_rollback) == (5, 2, "execute")
    assert (shop.auto_rollback_grace, shop.min_good_minutes, shop.flap_guard) == ("30s", 0, "2h")
    assert services["calm"].auto_rollback == "off", "YAML reads a bare off as false: it means off"


def test_bad_detection_and_auto_rollback_settings_name_their_line(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart:
            namespace: shop
            watch_minutes: 0
            watch_failures: three
            auto_rollback: always
            flap_guard: 1 hour
            min_good_minutes: -1
          shop:
            namespace: shop
            rollback_allowed: [U0ONCALL1]
            auto_rollback: execute
        """,
    )
    assert errors_of(path) == [
        f"{path}:4: services.cart.watch_minutes: expected a positive whole number of minutes, got 0",
        f"{path}:5: services.cart.watch_failures: expected a positive whole number, got 'three'",
        f"{path}:6: services.cart.auto_rollback: expected off, propose or execute, got 'always'",
        f"{path}:7: services.cart.flap_guard: expected a duration such as 5m, got '1 hour'",
        f"{path}:8: services.cart.min_good_minutes: expected a whole number (0 or more), got -1",
        f"{path}:12: services.shop.auto_rollback: execute rolls back as system:auto-rollback; add it to "
        'rollback_allowed ("*" means people only), or use propose',
    ]


# -------------------------------------------------------------------------- clusters


def test_a_service_names_its_cluster_and_check_config_knows_the_kubeconfig_contexts(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart: {namespace: shop, cluster: prod-eu, rollback_allowed: [U0ONCALL1]}
          shop: {namespace: shop, rollback_allowed: [U0ONCALL1]}
        """,
    )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("contexts:\n- name: prod-us\n  context: {cluster: us}\n")
    catalog = load_catalog(path)
    assert catalog.services["cart"].cluster == "prod-eu" and catalog.services["shop"].cluster is None
    errors, warnings = check_config(path, str(kubeconfig))
    assert errors == [
        f"{path}:2: services.cart.cluster: the kubeconfig has no context 'prod-eu' (its contexts: prod-us); "
        "add it, or fix the name"
    ]
    assert any("namespace 'shop' is used in more than one cluster" in w for w in warnings), warnings
    kubeconfig.write_text("contexts:\n- name: prod-us\n- name: prod-eu\n")
    assert check_config(path, str(kubeconfig))[0] == []
    unchecked = check_config(path)[1]
    assert any("KUBECONFIG is not set, so no context was checked" in w for w in unchecked), unchecked


def test_a_bad_cluster_is_an_error_naming_the_line(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart: {namespace: shop, cluster: "prod eu"}
          ecs: {namespace: shop, strategy: aws-ecs, cluster: prod}
        """,
    )
    errors = errors_of(path)
    assert any(e.startswith(f"{path}:2: services.cart.cluster: expected the name of a context") for e in errors)
    assert f"{path}:3: services.ecs.cluster: only a strategy on Kubernetes runs in a kubeconfig context" in errors


def test_socket_mode_needs_an_app_level_token():
    assert Settings.from_env({**ENV, "SLACK_APP_TOKEN": "xapp-1-A1-x"}).slack_app_token == "xapp-1-A1-x"
    with pytest.raises(ConfigError, match=r"SLACK_APP_TOKEN: expected an app-level token \(xapp-"):
        Settings.from_env({**ENV, "SLACK_APP_TOKEN": "xoxb-the-bot-token"})


def test_a_database_names_the_variable_of_its_url_and_its_migration_tool(tmp_path):
    good = write(tmp_path, """
        services:
          shop:
            namespace: shop
            database: {url_env: SHOP_DB_URL, migrations: liquibase}
    """)
    assert load_catalog(good).get("shop").database == DatabaseRef("SHOP_DB_URL", "liquibase")
    bad = write(tmp_path, """
        services:
          shop:
            namespace: shop
            database: {url_env: "mysql://root:pw@db/shop", migrations: rails}
    """)
    assert errors_of(bad) == [
        f"{bad}:4: services.shop.database.url_env: expected an environment variable name, got 'mysql://root:pw@db/shop'",
        f"{bad}:4: services.shop.database.migrations: expected flyway | liquibase | alembic, got 'rails'",
    ]


def test_a_dump_backup_runs_the_runbooks_dump_and_an_rds_snapshot_is_not_offered_yet(tmp_path):
    good = write(tmp_path, """
        services:
          shop:
            namespace: shop
            db_migrations: true
            backup_job: {kind: dump, image: mariadb:11, command: [sh, -c, "mysqldump shop > /b/x.sql"]}
    """)
    job = load_catalog(good).get("shop").backup_job
    assert (job.kind, job.command[0]) == ("dump", "sh")
    bad = write(tmp_path, """
        services:
          shop:
            namespace: shop
            db_migrations: true
            backup_job: {kind: dump, image: busybox, command: [sh, -c, "tar czf /b/x.tgz /data"]}
          game:
            namespace: game
            db_migrations: true
            backup_job: {kind: rds_snapshot}
    """)
    assert errors_of(bad) == [
        f"{bad}:5: services.shop.backup_job.command: a dump runs pg_dump or mysqldump (the runbook's command)",
        f"{bad}:9: services.game.backup_job.kind: "
        "rds_snapshot is not available yet (no strategy takes one): use job or dump",
    ]


def error_fields(path: Path) -> list[str]:
    """The fields the errors name, sorted (a flow mapping's errors share its line)."""
    return sorted(e.split(": ")[1] for e in errors_of(path))


def test_decision_deadlines_and_update_every(tmp_path):
    path = write(
        tmp_path,
        """
        services:
          cart:
            namespace: shop
            decision_deadlines: {critical: 0, high: 5m, low: none}
            update_every: 15m
          shop: {namespace: shop}
        """,
    )
    catalog = load_catalog(path)
    cart, shop = catalog.services["cart"].decision_deadlines, catalog.services["shop"].decision_deadlines
    assert (cart.critical, cart.high, cart.medium, cart.low) == (0, 300, 1800, None)
    assert cart.escalate_after("high") == 600 and cart.escalate_after("critical") == 300, "twice; Critical: 5m"
    assert (shop.high, shop.medium) == (600, 1800) and catalog.services["cart"].update_every == 900
    bad = write(
        tmp_path,
        """
        services:
          cart:
            namespace: shop
            decision_deadlines: {high: soon, medium: -1, escalate_critical_after: 0, urgent: 5m}
            update_every: 0
        """,
    )
    assert error_fields(bad) == [
        "services.cart.decision_deadlines.escalate_critical_after",
        "services.cart.decision_deadlines.high",
        "services.cart.decision_deadlines.medium",
        "services.cart.decision_deadlines.urgent",
        "services.cart.update_every",
    ]


def test_escalation_a_user_id_a_matrix_or_the_catalogs_default(tmp_path):
    path = write(
        tmp_path,
        """
        escalation: [{situation: company_wide, page: U0CTO0001}]
        services:
          cart: {namespace: shop, escalation: U0LEAD001}
          shop: {namespace: shop}
        """,
    )
    catalog = load_catalog(path)
    [cart] = catalog.services["cart"].escalation
    assert (cart.name, cart.page, cart.respond_within) == ("rollback_failed", ("U0LEAD001",), 300)
    assert [s.name for s in catalog.services["shop"].escalation] == ["company_wide"], "the default"
    bad = write(
        tmp_path,
        """
        services:
          cart:
            namespace: shop
            escalation:
              - {situation: database, page: [], respond_within: soon}
              - {situation: "Big Outage", page: alice}
              - {page: [U0DBA0001]}
        """,
    )
    assert error_fields(bad) == [
        "services.cart.escalation[0].page",
        "services.cart.escalation[0].respond_within",
        "services.cart.escalation[1].page",
        "services.cart.escalation[1].situation",
        "services.cart.escalation[2].situation",
    ]


def test_webhooks_and_status_page(tmp_path):
    from bot.config.outbound import WEBHOOK_EVENTS, StatusPage, Webhook

    good = write(
        tmp_path,
        """
        webhooks:
          - url: https://hooks.example.com/in
            secret_env: HOOK_KEY
          - url: http://10.0.0.5/x
            secret_env: OTHER_KEY
            events: [declared, resolved]
        services:
          cart:
            namespace: shop
            status_page: {component: abc123}
        """,
    )
    catalog = load_catalog(good)
    assert catalog.webhooks == (
        Webhook("https://hooks.example.com/in", "HOOK_KEY", WEBHOOK_EVENTS),
        Webhook("http://10.0.0.5/x", "OTHER_KEY", ("declared", "resolved")),
    )
    assert catalog.services["cart"].status_page == StatusPage("abc123")
    bad = write(
        tmp_path,
        """
        webhooks:
          - url: not-a-url
            secret_env: lower-case
            events: [exploded]
        services:
          cart:
            namespace: shop
            status_page: {}
        """,
    )
    assert errors_of(bad) == [
        f"{bad}:2: webhooks[0].url: expected an http(s) URL, got 'not-a-url'",
        f"{bad}:3: webhooks[0].secret_env: expected an environment variable name, got 'lower-case'",
        f"{bad}:4: webhooks[0].events[0]: expected one of {', '.join(WEBHOOK_EVENTS)}, got 'exploded'",
        f"{bad}:8: services.cart.status_page.component: missing (the Statuspage component id)",
    ]
