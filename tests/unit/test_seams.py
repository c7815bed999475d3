"""The seams between the bot's packages, read from the source (AST only: nothing is imported).

Each rule names the file:line that breaks it, so a contributor knows what to move (docs/ARCHITECTURE.md
draws the packages and their allowed dependencies). Each rule is also run on a small synthetic tree that
breaks it, so a rule that stopped finding anything would fail here too.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES, MAX_FUNCTION = 400, 60
CLIENT_LIBRARIES = (
    "kubernetes", "boto3", "botocore", "slack_sdk", "prometheus_api_client", "sqlalchemy", "requests", "paramiko",
    "docker",
)
NOT_FOR_HANDLERS = ("bot.providers", "bot.state")
NOT_FOR_STRATEGIES = ("slack_sdk", "slack_bolt", "bot.slack", "bot.state", "sqlalchemy")


@dataclass(frozen=True)
class Module:
    path: Path  # relative to the root
    name: str  # dotted: bot.state.runs
    tree: ast.Module
    lines: int

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


@dataclass(frozen=True)
class Import:
    module: Module
    line: int
    target: str  # dotted, resolved (a relative import made absolute; ``from bot import reports``: bot.reports)

    @property
    def where(self) -> str:
        return f"{self.module.path}:{self.line}"


def modules(root: Path, exempt: tuple[str, ...] = ("sandbox", "migrations")) -> list[Module]:
    """Every module of ``bot/`` and ``handlers/`` under ``root`` but those in an exempt directory."""
    found = []
    for top in ("bot", "handlers"):
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            if set(rel.parts) & set(exempt):
                continue
            text = path.read_text()
            name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            found.append(Module(rel, name, ast.parse(text, str(rel)), len(text.splitlines())))
    return found


def imports(module: Module, known: set[str]) -> Iterator[Import]:
    """Every import of the module, at any depth (in a function, under TYPE_CHECKING)."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:  # ``from bot import reports`` imports the module bot.reports
                sub = f"{base}.{alias.name}"
                yield Import(module, node.lineno, sub if sub in known else base)


def is_under(target: str, prefixes: tuple[str, ...]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def node_of(name: str) -> str | None:
    """The graph's node of a module: bot.<package>, bot.providers.<name>, a top-level bot module, handlers."""
    parts = name.split(".")
    if parts[0] == "handlers":
        return "handlers"
    if parts[0] != "bot":
        return None
    if len(parts) == 1:
        return "bot"
    if parts[1] == "providers" and len(parts) > 2:
        return "bot.providers." + parts[2]
    return "bot." + parts[1]


# -------------------------------------------------------------------------------- the rules


def cycles(mods: list[Module]) -> list[str]:
    """One message per cycle between packages, naming an import of each of its edges."""
    known = {m.name for m in mods}
    edges: dict[str, dict[str, str]] = {}
    for m in mods:
        for imp in imports(m, known):
            a, b = node_of(m.name), node_of(imp.target)
            if a and b and a != b:
                edges.setdefault(a, {}).setdefault(b, imp.where)
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            loop = path[path.index(node):] + [node]
            key = frozenset(loop)
            if key not in done:
                done.add(key)
                hops = ", ".join(f"{a} -> {b} ({edges[a][b]})" for a, b in zip(loop, loop[1:], strict=False))
                found.append(f"cycle between packages: {hops}")
            return
        if node in seen:
            return
        seen.add(node)
        for nxt in sorted(edges.get(node, {})):
            visit(nxt, [*path, node])

    seen: set[str] = set()
    for start in sorted(edges):
        visit(start, [])
    return found


def _forbidden(mods: list[Module], applies: Callable[[Module], bool], banned: tuple[str, ...], rule: str) -> list[str]:
    known = {m.name for m in mods}
    found = (
        f"{imp.where}: {rule}: imports {imp.target}"
        for m in mods
        if applies(m)
        for imp in imports(m, known)
        if is_under(imp.target, banned)
    )
    return list(dict.fromkeys(found))  # once per line and module


def handler_imports(mods: list[Module]) -> list[str]:
    return _forbidden(
        mods,
        lambda m: m.name.split(".")[0] == "handlers",
        CLIENT_LIBRARIES + NOT_FOR_HANDLERS,
        "a handler imports no client library nor bot.providers / bot.state (call bot.incidents)",
    )


def sandbox_imports(mods: list[Module]) -> list[str]:
    return _forbidden(
        mods, lambda m: True, ("bot.sandbox",), "no product module imports the sandbox (add a sandbox command)"
    )


def is_strategy(m: Module) -> bool:
    """bot/strategies and everything under bot/providers: each strategy package and the code they share."""
    return m.name.split(".")[:2] in (["bot", "strategies"], ["bot", "providers"])


def strategy_imports(mods: list[Module]) -> list[str]:
    return _forbidden(
        mods,
        is_strategy,
        NOT_FOR_STRATEGIES,
        "a strategy imports neither Slack nor state (take what it needs from its BuildContext)",
    )


NEUTRAL = ("incidents", "slack", "steps", "reports", "worker", "jobs")


def neutral_imports(mods: list[Module]) -> list[str]:
    """The use cases, the views, the steps and the worker know strategies only through the registry and the
    capabilities: a new provider's strategy needs no edit there."""
    return _forbidden(
        mods,
        lambda m: m.name.split(".")[:2][-1] in NEUTRAL and m.name.startswith("bot."),
        ("bot.providers",),
        "the use cases, views and steps import no provider (ask the registry or a capability)",
    )


def sizes(mods: list[Module]) -> list[str]:
    found = [f"{m.path}:1: a module has at most {MAX_LINES} lines: {m.lines}" for m in mods if m.lines > MAX_LINES]
    for m in mods:
        for fn in ast.walk(m.tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
                if length > MAX_FUNCTION:
                    found.append(f"{m.path}:{fn.lineno}: a function has at most {MAX_FUNCTION} lines: {fn.name} "
                                 f"has {length}")
    return found


RULES = {
    "cycles": cycles,
    "handlers": handler_imports,
    "sandbox": sandbox_imports,
    "strategies": strategy_imports,
    "neutral": neutral_imports,
    "sizes": sizes,
}


@pytest.mark.parametrize("rule", RULES)
def test_the_bot_keeps_its_seams(rule: str) -> None:
    broken = RULES[rule](modules(ROOT))
    assert not broken, "\n".join(broken)


# -------------------------------------------------------------------------------- each rule finds a break


def _tree(tmp_path: Path, files: dict[str, str]) -> list[Module]:
    for rel, text in {"bot/__init__.py": "", "handlers/__init__.py": "", **files}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return modules(tmp_path)


LONG_FUNCTION = "def f():\n" + "    x = 1\n" * MAX_FUNCTION
BREAKS = {
    "cycles": (
        {
            "bot/state/__init__.py": "",
            "bot/state/runs.py": "from bot.incidents import states\n",
            "bot/incidents/__init__.py": "",
            "bot/incidents/states.py": "",
            "bot/incidents/cards.py": "def f():\n    from ..state import runs\n",
        },
        "bot/incidents/cards.py:2",
    ),
    "handlers": ({"handlers/health.py": "import x\nfrom bot.state.db import Database\n"}, "handlers/health.py:2"),
    "handlers ": ({"handlers/health.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import boto3\n"},
                  "handlers/health.py:3"),
    "sandbox": ({"bot/cli.py": "\n\ndef f():\n    from bot.sandbox.world import World\n"}, "bot/cli.py:4"),
    "strategies": (
        {"bot/providers/__init__.py": "", "bot/providers/aws/__init__.py": "", "bot/providers/aws/ecs/__init__.py": "",
         "bot/providers/aws/ecs/strategy.py": "from bot.slack import views\n"},
        "bot/providers/aws/ecs/strategy.py:1",
    ),
    "strategies ": ({"bot/strategies/base.py": "import sqlalchemy.orm\n"}, "bot/strategies/base.py:1"),
    "neutral": ({"bot/steps/__init__.py": "", "bot/steps/traffic.py": "\nfrom bot.providers.kubernetes import api\n"},
                "bot/steps/traffic.py:2"),
    "sizes": ({"bot/big.py": "x = 1\n" * (MAX_LINES + 1)}, "bot/big.py:1"),
    "sizes ": ({"bot/long.py": "\n" + LONG_FUNCTION}, "bot/long.py:2"),
}


@pytest.mark.parametrize("case", BREAKS)
def test_each_rule_names_the_line_that_breaks_it(tmp_path: Path, case: str) -> None:
    files, where = BREAKS[case]
    broken = RULES[case.strip()](_tree(tmp_path, files))
    assert broken and all(where in line for line in broken), broken


def test_the_sandbox_and_the_migrations_are_exempt(tmp_path: Path) -> None:
    mods = _tree(tmp_path, {
        "bot/sandbox/world.py": "x = 1\n" * (MAX_LINES + 1),
        "bot/state/migrations/versions/0001_initial.py": "\n" + LONG_FUNCTION,
        "bot/sandbox/demo.py": "from bot.sandbox import world\n",
    })
    assert [f(mods) for f in RULES.values()] == [[]] * len(RULES)
