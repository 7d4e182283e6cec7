"""Dependencies point one way (DESIGN.md section 1): the domain (``bot/vpn/``) uses nothing of the project; the
change workflow (``bot/changes/``) knows no Slack, no HTTP and no store implementation; the Slack front reaches
the cloud only through the change service. Checked on the source (every import, also inside functions), so a
lazy import cannot hide a dependency."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
SLACK_OR_HTTP = ("slack_bolt", "slack_sdk", "aiohttp", "httpx", "http", "urllib.request", "socket", "bot.slack")
STORE_IMPLEMENTATION = ("bot.store.embedded", "bot.store.tables", "bot.store.chain", "bot.store.keys", "sqlite3")
COMPOSITION_ROOT = "runner.py"
"""The one Slack module that builds the cloud and the store and hands them to the service."""


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute; ``from bot.store import Store`` counts as ``bot.store.Store``."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(BOT.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def offending(directory: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in sorted((BOT / directory).rglob("*.py")):
        for name in sorted(imports(path)):
            if any(name == f or name.startswith(f"{f}.") for f in forbidden) and not any(
                name == a or name.startswith(f"{a}.") for a in allowed
            ):
                bad.append(f"{path.relative_to(BOT.parent)} imports {name}")
    return bad


def test_the_domain_uses_nothing_of_the_project_but_itself() -> None:
    assert offending("vpn", ("bot",), allowed=("bot.vpn",)) == []
    assert offending("vpn", SLACK_OR_HTTP + STORE_IMPLEMENTATION + ("asyncio",)) == []


def test_the_change_workflow_knows_no_slack_no_http_and_no_store_implementation() -> None:
    assert offending("changes", SLACK_OR_HTTP + STORE_IMPLEMENTATION) == []
    assert offending("changes", ("bot.store",), allowed=("bot.store.interface", "bot.store.errors")) == []


def test_the_slack_front_reaches_the_cloud_only_through_the_service() -> None:
    cloud = ("bot.tencent", "bot.cloud", "bot.sim")
    bad = [line for line in offending("slack", cloud) if not line.startswith(f"bot/slack/{COMPOSITION_ROOT} ")]
    assert bad == []
    for path in sorted((BOT / "slack").rglob("*.py")):
        if path.name == COMPOSITION_ROOT:
            continue
        tree = ast.parse(path.read_text())
        reached = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "cloud"]
        assert reached == [], f"{path.name} reaches a .cloud at lines {reached}"


PLAYGROUND_ROOT = "run.py"
"""The playground's one module that starts the simulator and the bot (as ``serve`` does) and hands them over."""


def test_the_playground_plays_slack_and_knows_nothing_of_the_bot_inside() -> None:
    """The page and the stand-in talk to the bot only as Slack does, over signed HTTP: no module but the
    composition root imports the bot, the workflow, the cloud or the store, and the root only starts them."""
    inside = ("bot.slack", "bot.changes", "bot.tencent", "bot.cloud", "bot.store", "bot.sim", "bot.vpn", "bot.config")
    bad = [
        line for line in offending("playground", inside) if not line.startswith(f"bot/playground/{PLAYGROUND_ROOT} ")
    ]
    assert bad == []
    allowed = ("bot.playground", "bot.config", "bot.sim", "bot.slack.runner", "bot.cloud", "bot.tencent")
    assert offending("playground", ("bot",), allowed=allowed) == []


@pytest.mark.parametrize(
    ("source", "directory", "forbidden"),
    [
        ("from bot.slack import cards\n", "changes", SLACK_OR_HTTP),
        ("def f():\n    import httpx\n", "changes", SLACK_OR_HTTP),
        ("from ..store.embedded import Store\n", "changes", STORE_IMPLEMENTATION),
        ("from bot.tencent import CloudError\n", "slack", ("bot.tencent",)),
    ],
)
def test_the_check_finds_an_import_it_forbids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, directory: str, forbidden: tuple[str, ...]
) -> None:
    """The scan itself: a planted import of each kind is found (so a clean result means something)."""
    fake = tmp_path / "bot"
    (fake / directory).mkdir(parents=True)
    (fake / directory / "planted.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "BOT", fake)
    assert offending(directory, forbidden) != []
