"""``options:`` of a blue-green service (its old name: ``blue_green:``)."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from bot.config.reader import DURATION_CHECK, INVALID, K8S, CatalogReader, is_label_value

AFTER_SWITCH = ("keep", "scale_to_zero", "delete")
_CHECKS = {
    "service": K8S,
    "selector_key": (is_label_value, "a label key such as version"),
    "virtual_service": K8S,
    "after_switch": (lambda v: v in AFTER_SWITCH, " or ".join(AFTER_SWITCH)),
    "ready_timeout": DURATION_CHECK,
}


@dataclass(frozen=True)
class BlueGreen:
    """Two Deployments ("colours") behind one Service whose selector picks the live one."""

    colours: dict[str, str]  # selector value -> Deployment, e.g. {"blue": "storefront-blue", ...}
    service: str = ""  # the Service whose selector switches; "" -> the service's name
    selector_key: str = "version"
    virtual_service: str = ""  # an Istio VirtualService routing the host by subset (named after the colour)
    after_switch: str = "keep"  # what happens to the bad colour once the good one is verified
    ready_timeout: str = "5m"  # how long the idle colour may take to become ready

    @classmethod
    def read(cls, r: CatalogReader, node: yaml.Node, where: str) -> BlueGreen | None:
        given = r.mapping(node, where, {**_CHECKS, "colours": ""}) or {}
        values = {k: r.check(n, f"{where}.{k}", *_CHECKS[k]) for k, n in given.items() if k != "colours"}
        if "colours" not in given:
            r.error(node, f"{where}.colours", "missing (selector value -> Deployment, two of them)")
            return None
        colours = r.mapping(given["colours"], f"{where}.colours", None)
        if colours is None:
            return None
        if len(colours) != 2:
            r.error(given["colours"], f"{where}.colours", f"expected two colours, got {len(colours)}")
        for colour, n in colours.items():
            if not is_label_value(colour):
                r.error(n, f"{where}.colours.{colour}", "the colour must be a label value")
        named = {c: r.check(n, f"{where}.colours.{c}", *K8S) for c, n in colours.items()}
        if INVALID in values.values() or INVALID in named.values():
            return None
        return cls(colours=named, **values)
