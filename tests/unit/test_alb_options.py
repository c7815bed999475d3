"""The catalog's ``options:`` of an ``aws-alb`` service (the listener rule's ARN, the stable target group, the
region, the steps) and a service's ``cdn:`` block: what ``check-config`` accepts and the file:line errors."""

from __future__ import annotations

import textwrap

import pytest

from bot.config import ConfigError, load_catalog
from bot.providers.aws.alb.options import AlbOptions

RULE = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2/9683b2d02a6cabee"
)
TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-blue/73e2d6bc24d8a067"


def catalog(tmp_path, options: str, extra: str = ""):
    path = tmp_path / "services.yaml"
    body = "services:\n  shop:\n    strategy: aws-alb\n    rollback_allowed: [U0ONCALL1]\n" + extra + "    options:\n"
    path.write_text(body + textwrap.indent(textwrap.dedent(options).strip() + "\n", "      "))
    return path


def errors(path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    return [e.split(": ", 1)[1] for e in caught.value.errors]


def test_an_alb_service_reads_the_rule_the_stable_target_group_and_its_steps(tmp_path):
    service = load_catalog(catalog(tmp_path, f"rule: {RULE}\nstable: {TG}\nregion: eu-west-1\nsteps: [50, 0]")).get(
        "shop"
    )
    o = service.options
    assert isinstance(o, AlbOptions) and o.steps == (50, 0) and service.namespace == ""
    assert o.where == "ALB listener rule shop/9683b2d02a6cabee (eu-west-1)"
    assert load_catalog(catalog(tmp_path, f"rule: {RULE}\nstable: shop-blue\nregion: eu-west-1")).get(
        "shop"
    ).options.steps == (0,)


def test_bad_options_are_named_with_their_line(tmp_path):
    found = errors(
        catalog(
            tmp_path,
            "rule: arn:aws:ecs:eu-west-1:123456789012:cluster/shop\nstable: -blue-\n"
            "region: eu-west-1\nsteps: [50, 60, 0]",
        )
    )
    assert found[0].startswith("services.shop.options.rule: expected the listener rule's ARN")
    assert found[1].startswith("services.shop.options.stable: expected a target group name")
    assert found[2].startswith("services.shop.options.steps: expected falling weights (0-99) ending with 0")
    assert errors(catalog(tmp_path, f"rule: {RULE}\nstable: shop-blue\nregion: us-east-1")) == [
        "services.shop.options.rule: the ARN is in region eu-west-1, not us-east-1"
    ]
    assert errors(catalog(tmp_path, "stable: shop-blue")) == [
        "services.shop.options.rule: missing (the listener rule's ARN (arn:aws:elasticloadbalancing:<region>:"
        "<account>:listener-rule/app/...))",
        "services.shop.options.region: missing (the AWS region of the load balancer, such as eu-west-1)",
    ]


def test_cdn_reads_the_distribution_paths_and_deadline(tmp_path):
    options = f"rule: {RULE}\nstable: shop-blue\nregion: eu-west-1"
    cdn = "    cdn:\n      distribution_id: E2QWRUHAPOMQZL\n      paths: [/*, /static/*]\n      deadline: 5m\n"
    found = load_catalog(catalog(tmp_path, options, cdn)).get("shop").cdn
    assert (found.distribution_id, found.paths, found.deadline) == ("E2QWRUHAPOMQZL", ("/*", "/static/*"), "5m")
    assert load_catalog(catalog(tmp_path, options, "    cdn: {distribution_id: E2QWRUHAPOMQZL}\n")).get(
        "shop"
    ).cdn.paths == ("/*",)
    bad = "    cdn:\n      distribution_id: d123.cloudfront.net\n      paths: [static/*]\n      ttl: 5\n"
    found = sorted(errors(catalog(tmp_path, options, bad)))
    assert found[0].startswith("services.shop.cdn.distribution_id: expected a CloudFront distribution id"), found
    assert found[1].startswith("services.shop.cdn.paths[0]: expected paths starting with /"), found
    assert found[2].startswith("services.shop.cdn.ttl: unknown key"), found
    assert errors(catalog(tmp_path, options, "    cdn: {paths: [/*]}\n")) == [
        "services.shop.cdn.distribution_id: missing (the CloudFront distribution's id)"
    ]
