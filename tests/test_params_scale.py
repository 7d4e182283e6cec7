"""Large policies stay usable: validating 20 x 250 SPD rules or 5,000 CIDRs takes a fraction of a second.

These are measurements, not timed assertions (a shared CI machine makes wall-clock bounds flaky): each test checks
the answer and records the seconds it took (``record_property``; ``pytest -s`` prints them). Comparing every pair
took 15-30 s for each of the first two; the sweep takes tens of milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from items import connection

from bot.vpn.edit import propose
from bot.vpn.params import PARAMS_BY_NAME, InvalidParametersError, SpdPolicy, edit_text, parse_value

T = TypeVar("T")


def net24(first_octet: int, i: int) -> str:
    return f"{first_octet}.{i // 256}.{i % 256}.0/24"


LOCALS = [net24(10, i) for i in range(20)]
REMOTES = [net24(172, i) for i in range(250)]
SPD_TEXT = "\n".join(f"{local}: {', '.join(REMOTES)}" for local in LOCALS)
CIDRS_TEXT = "\n".join(net24(192, i) for i in range(5000))


def measured(record_property: Callable[[str, object], None], label: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    try:
        return work()
    finally:
        seconds = time.perf_counter() - start
        record_property(label, f"{seconds:.4f}")
        print(f"{label}: {seconds:.4f} s")


def test_a_20_by_250_policy_validates(record_property: Callable[[str, object], None]) -> None:
    current = connection().settings
    proposal = measured(record_property, "spd_20x250_seconds", lambda: propose(current, {"spdAcl": SPD_TEXT}))
    spd = proposal.settings["spdAcl"]
    assert isinstance(spd, SpdPolicy)
    assert len(spd.pairs()) == 5000
    assert proposal.changed(current) == ("spdAcl",)


def test_a_20_by_250_policy_with_one_overlap_names_it(record_property: Callable[[str, object], None]) -> None:
    current = connection().settings
    text = SPD_TEXT + "\n10.0.19.128/25: 172.0.249.64/26"
    with pytest.raises(InvalidParametersError) as caught:
        measured(record_property, "spd_20x250_overlap_seconds", lambda: propose(current, {"spdAcl": text}))
    assert caught.value.problems == {
        "spdAcl": "pairs overlap: 10.0.19.0/24 -> 172.0.249.0/24 and 10.0.19.128/25 -> 172.0.249.64/26"
    }


def test_5000_cidrs_validate(record_property: Callable[[str, object], None]) -> None:
    current = connection().settings
    proposal = measured(
        record_property, "cidrs_5000_seconds", lambda: propose(current, {"userGwCidrBlock": CIDRS_TEXT})
    )
    assert len(proposal.settings.cidrs()) == 5000
    with pytest.raises(InvalidParametersError) as caught:
        propose(current, {"userGwCidrBlock": CIDRS_TEXT + "\n192.19.135.0/25"})
    assert caught.value.problems == {"userGwCidrBlock": "192.19.135.0/24 overlaps 192.19.135.0/25"}


def test_a_large_current_policy_left_alone_costs_nothing(record_property: Callable[[str, object], None]) -> None:
    spd = parse_value(PARAMS_BY_NAME["spdAcl"], SPD_TEXT)
    current = connection().settings.replace({"spdAcl": spd})
    absent = measured(record_property, "rename_spd_absent_seconds", lambda: propose(current, {"vpnConnName": "r"}))
    form = {"vpnConnName": "r", "spdAcl": edit_text(spd)}
    prefilled = measured(record_property, "rename_spd_form_text_seconds", lambda: propose(current, form))
    assert absent.changed(current) == prefilled.changed(current) == ("vpnConnName",)
