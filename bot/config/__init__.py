"""Settings from the environment and the services catalog (YAML), validated at start.

``settings`` reads the environment, ``catalog`` the YAML (with ``reader``'s file:line errors), ``service`` is
what the rest of the bot reads, ``queries`` the signals and their PromQL, ``permissions`` who may do what.
"""

from bot.config.catalog import check_config, load_catalog
from bot.config.names import duration_seconds, promql_string, valid_k8s_name
from bot.config.permissions import ACTIONS_BY_KIND, ANYONE, Action, Kind
from bot.config.queries import SIGNALS, Analysis, Thresholds, default_queries
from bot.config.service import Catalog, ServiceConfig
from bot.config.settings import MIN_FINGERPRINT_KEY, ConfigError, PrometheusAuth, Settings

__all__ = [
    "ACTIONS_BY_KIND",
    "ANYONE",
    "MIN_FINGERPRINT_KEY",
    "SIGNALS",
    "Action",
    "Analysis",
    "Catalog",
    "ConfigError",
    "Kind",
    "PrometheusAuth",
    "ServiceConfig",
    "Settings",
    "Thresholds",
    "check_config",
    "default_queries",
    "duration_seconds",
    "load_catalog",
    "promql_string",
    "valid_k8s_name",
]
