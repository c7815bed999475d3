"""``aws-ecs``: designed (docs/ARCHITECTURE.md) but not built. Its spec has no builder, so the catalog refuses
it with "not available yet" instead of failing mid-incident."""

from __future__ import annotations

from bot.strategies.registry import StrategySpec

SPEC = StrategySpec(name="aws-ecs", provider="aws", build=None, description="ECS service task definition rollback")
