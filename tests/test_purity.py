"""``bot/vpn/`` and the Block Kit builders hold no module-level mutable state (DESIGN section 1: "pure").

A scan of each module's syntax tree fails on a ``global`` statement, a ``functools.cache``/``lru_cache`` decorator
(or call), and a module-level (or class-level) assignment whose value is mutable: a dict, list or set literal or
comprehension, or a call that makes a mutable container (``dict()``, ``OrderedDict()``, ``defaultdict()``,
``WeakValueDictionary()``, ``dict.fromkeys()``, a lock or a queue, ...). Immutable constants are fine: a literal
wrapped in ``MappingProxyType``, ``frozenset`` or ``tuple``, tuples of immutables, compiled patterns.
``functools.cached_property`` is per instance and allowed. ``__all__`` is exempt (the module's export list, a list
by convention and never changed). A cache that is measured to matter belongs to an object the running app owns
and passes in (``bot.vpn.connection.SecretFingerprints`` shows the shape: immutable, given to whoever needs it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = sorted(
    [
        *(ROOT / "bot" / "vpn").rglob("*.py"),
        ROOT / "bot" / "slack" / "blocks.py",
        ROOT / "bot" / "slack" / "diffview.py",
        ROOT / "bot" / "slack" / "text.py",
        ROOT / "bot" / "slack" / "home.py",
        ROOT / "bot" / "playground" / "kinds.py",
    ]
)

MUTABLE_FACTORIES = frozenset(
    {
        "dict",
        "list",
        "set",
        "bytearray",
        "OrderedDict",
        "defaultdict",
        "deque",
        "Counter",
        "ChainMap",
        "UserDict",
        "UserList",
        "WeakValueDictionary",
        "WeakKeyDictionary",
        "WeakSet",
        "SimpleNamespace",
        "array",
        "Queue",
        "LifoQueue",
        "PriorityQueue",
        "SimpleQueue",
        "Lock",
        "RLock",
        "Event",
        "Condition",
        "Semaphore",
        "BoundedSemaphore",
        "local",
        "ContextVar",
    }
)
CACHE_DECORATORS = frozenset({"cache", "lru_cache"})
IMMUTABLE_WRAPPERS = frozenset({"MappingProxyType", "frozenset", "tuple"})
EXEMPT_NAMES = frozenset({"__all__"})


def _name(node: ast.expr) -> str | None:
    """The last name of ``a.b.c`` or ``c``; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _mutable(value: ast.expr, aliases: dict[str, str]) -> str | None:
    """Why ``value`` makes a mutable object, or None when it does not (as far as syntax tells)."""
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp):
        return f"a {type(value).__name__} literal"
    if isinstance(value, ast.Tuple):
        return next((why for element in value.elts if (why := _mutable(element, aliases))), None)
    if isinstance(value, ast.BinOp):
        return _mutable(value.left, aliases) or _mutable(value.right, aliases)
    if isinstance(value, ast.IfExp):
        return _mutable(value.body, aliases) or _mutable(value.orelse, aliases)
    if isinstance(value, ast.Call):
        called = _name(value.func)
        called = aliases.get(called, called) if called else None
        if called in IMMUTABLE_WRAPPERS:
            return None
        if called in MUTABLE_FACTORIES:
            return f"{called}()"
        if called in CACHE_DECORATORS:
            return f"functools.{called}"
        if isinstance(value.func, ast.Attribute) and _name(value.func.value) in MUTABLE_FACTORIES:
            return f"{_name(value.func.value)}.{value.func.attr}()"  # dict.fromkeys(...)
        if isinstance(value.func, ast.Call):  # lru_cache(maxsize=8)(function)
            return _mutable(value.func, aliases)
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """``from x import a as b``: b -> a, so that a renamed ``lru_cache`` or ``OrderedDict`` is still seen."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name
    return found


def _targets(node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [name for t in targets for name in (n.id for n in ast.walk(t) if isinstance(n, ast.Name))]


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements that run once, at import: the module's, and those of its classes and module-level blocks
    (``if``, ``try``, ``with``), not function bodies."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.ClassDef):
            found.extend(_top_level(node.body))
        elif isinstance(node, ast.If | ast.For | ast.While):
            found.extend(_top_level(node.body) + _top_level(node.orelse))
        elif isinstance(node, ast.With):
            found.extend(_top_level(node.body))
        elif isinstance(node, ast.Try):
            found.extend(_top_level(node.body) + _top_level(node.orelse) + _top_level(node.finalbody))
            for handler in node.handlers:
                found.extend(_top_level(handler.body))
    return found


def problems(source: str, filename: str = "<source>") -> list[str]:
    """Every piece of module-level mutable state in ``source``, as ``file:line: what``."""
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found.append(f"{filename}:{node.lineno}: global {', '.join(node.names)}")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                called = _name(target)
                if called and aliases.get(called, called) in CACHE_DECORATORS:
                    found.append(
                        f"{filename}:{decorator.lineno}: @{called} on {node.name} (a cache kept by the module)"
                    )
    for node in _top_level(tree.body):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value is not None:
            names = [n for n in _targets(node) if n not in EXEMPT_NAMES]
            if not names:
                continue
            if isinstance(node, ast.AugAssign):
                found.append(f"{filename}:{node.lineno}: {', '.join(names)} changed at import")
            elif why := _mutable(node.value, aliases):
                found.append(f"{filename}:{node.lineno}: {', '.join(names)} = {why} (mutable state of the module)")
    return found


def test_the_scan_covers_the_pure_modules() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in PURE}
    assert {"bot/vpn/connection.py", "bot/vpn/params.py", "bot/slack/blocks.py", "bot/slack/text.py"} <= names
    assert "bot/slack/diffview.py" in names


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_level_mutable_state(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix()) == []


@pytest.mark.parametrize(
    "source",
    [
        "_KEY = b''\ndef use(key):\n    global _KEY\n    _KEY = key\n",
        "from collections import OrderedDict\n_READ: OrderedDict[bytes, int] = OrderedDict()\n",
        "import collections\n_READ = collections.OrderedDict()\n",
        "import functools\n@functools.cache\ndef help(): return ()\n",
        "import functools\n@functools.lru_cache(maxsize=64)\ndef listed(rows): return ''\n",
        "from functools import lru_cache as remember\n@remember\ndef listed(rows): return ''\n",
        "import functools\nlisted = functools.lru_cache(maxsize=8)(str)\n",
        "STATE_EMOJI = {1: ':gear:'}\n",
        "NAMES = [1, 2]\n",
        "SEEN = set()\n",
        "SEEN = {n for n in range(3)}\n",
        "BY_NAME = {p: p for p in 'ab'}\n",
        "ROWS = ([],)\n",
        "ROWS = [0] * 8\n",
        "import weakref\nKEPT = weakref.WeakValueDictionary()\n",
        "from collections import defaultdict\nKEPT = defaultdict(list)\n",
        "KEPT = dict.fromkeys('ab')\n",
        "class Kept:\n    seen: dict[str, int] = {}\n",
        "try:\n    import x\nexcept ImportError:\n    CACHE = {}\n",
        "COUNT = 0\nCOUNT += 1\n",
    ],
)
def test_the_scan_finds_module_state(source: str) -> None:
    assert problems(source), source


@pytest.mark.parametrize(
    "source",
    [
        "from types import MappingProxyType\nNAMES = MappingProxyType({1: 'a'})\n",
        "ROUTE_BASED = frozenset({'staticroute', 'bgp'})\n",
        "IKE = tuple(p for p in 'ab')\n",
        "GROUPS = (('', 'Connection'), ('peers', 'Peer networks'))\n",
        "import re\n_ID = re.compile('[a-z]+')\n",
        "from typing import Any\nRendered = list[dict[str, Any]]\n",
        "__all__ = ['a', 'b']\n",
        "def local():\n    seen = {}\n    seen[1] = 2\n    return seen\n",
        "from functools import cached_property\nclass C:\n    @cached_property\n    def x(self): return 1\n",
        "MAX = 2**31 - 1\n",
    ],
)
def test_the_scan_accepts_immutable_constants(source: str) -> None:
    assert problems(source) == []
