"""The Block Kit kinds the playground's page renders, and the kinds a payload holds.

The page (``page/playground.js``) has one renderer for each kind listed here and shows an "unknown block"
placeholder for any other. The Slack stand-in records every kind a bot sends that is not listed
(``SlackStandin.unrendered``), so the whole end-to-end suite checks that the page can show what the bot sends, and
the browser test renders one of each listed kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

RENDERED_BLOCKS: Final = frozenset(
    {"actions", "context", "divider", "header", "image", "input", "markdown", "rich_text", "section", "table"}
)
RENDERED_ELEMENTS: Final = frozenset(
    {
        "button",
        "checkboxes",
        "image",
        "mrkdwn",
        "number_input",
        "overflow",
        "plain_text",
        "plain_text_input",
        "radio_buttons",
        "raw_text",
        "rich_text",
        "static_select",
    }
)
"""Elements, text objects and table cells, by their ``type``."""

_ELEMENT_KEYS: Final = ("accessory", "element", "text", "label", "hint", "placeholder", "title", "description")


def kinds_in(blocks: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """Every ``("block", type)`` and ``("element", type)`` in ``blocks``: blocks, their elements, text objects,
    table cells, with duplicates. Malformed entries are skipped (the stand-in's validation reports those)."""
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        yield ("block", str(block.get("type")))
        yield from _elements_of(block, top=True)


def unrendered(blocks: Iterable[Any]) -> set[str]:
    """The kinds in ``blocks`` the page has no renderer for, as ``"block foo"`` / ``"element bar"``."""
    found = set(kinds_in(blocks))
    return {
        f"{what} {kind}"
        for what, kind in found
        if kind not in (RENDERED_BLOCKS if what == "block" else RENDERED_ELEMENTS)
    }


def _elements_of(node: Mapping[str, Any], *, top: bool = False) -> Iterator[tuple[str, str]]:
    if not top and isinstance(node.get("type"), str):
        yield ("element", node["type"])
    if node.get("type") == "rich_text" or node.get("type", "").startswith("rich_text_"):
        return  # rich text's inner parts are the rich_text renderer's own business
    for key in _ELEMENT_KEYS:
        value = node.get(key)
        if isinstance(value, Mapping):
            yield from _elements_of(value)
    for key in ("elements", "fields", "options"):
        for value in node.get(key) or ():
            if isinstance(value, Mapping):
                yield from _elements_of(value)
    for row in node.get("rows") or ():
        for cell in row if isinstance(row, list) else ():
            if isinstance(cell, Mapping):
                yield from _elements_of(cell)
