"""The overlap checks (CIDR lists, SPD pairs within a policy and across policies) agree with comparing every pair.

The fast checks must give the very answer the brute-force reference gives (which the messages quote), on random
small inputs drawn to overlap often: IPv4 CIDRs of every prefix length, clustered in a few small address ranges.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from bot.vpn.params import Cidr, Pair, first_overlap, first_pair_overlap, first_self_overlap, parse_spd

# --- the reference: what the checks did before they were made fast (compare every pair, in sorted order) ----------


def brute_overlap(cidrs: Iterable[Cidr]) -> tuple[Cidr, Cidr] | None:
    ordered = sorted(cidrs)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if a.overlaps(b):
                return a, b
    return None


def brute_pair_overlap(mine: Iterable[Pair], others: Iterable[Pair]) -> tuple[Pair, Pair] | None:
    other_list = sorted(others)
    for a in sorted(mine):
        for b in other_list:
            if a[0].overlaps(b[0]) and a[1].overlaps(b[1]):
                return a, b
    return None


def brute_self_overlap(pairs: Iterable[Pair]) -> tuple[Pair, Pair] | None:
    ordered = sorted(set(pairs))
    for i, a in enumerate(ordered):
        found = brute_pair_overlap([a], ordered[i + 1 :])
        if found:
            return found
    return None


# --- random inputs that overlap often ----------------------------------------------------------------------------

_CLUSTERS = (0x0A000000, 0x0A010000, 0xC0A80000, 0xAC100000)  # 10.0/16, 10.1/16, 192.168/16, 172.16/16


@st.composite
def cidrs(draw: st.DrawFn) -> Cidr:
    length = draw(st.one_of(st.integers(14, 32), st.integers(0, 32)))
    if draw(st.booleans()):
        address = draw(st.sampled_from(_CLUSTERS)) | draw(st.integers(0, 0xFFFF))
    else:
        address = draw(st.integers(0, 0xFFFFFFFF))
    network = address & (0xFFFFFFFF ^ (0xFFFFFFFF >> length))
    return ipaddress.IPv4Network((network, length))


cidr_lists = st.lists(cidrs(), max_size=14)
pair_lists = st.lists(st.tuples(cidrs(), cidrs()), max_size=14)
# Policies often reuse a few locals and remotes, as real ones do.
shared_pair_lists = st.lists(cidrs(), min_size=1, max_size=5).flatmap(
    lambda pool: st.lists(st.tuples(st.sampled_from(pool), st.sampled_from(pool) | cidrs()), max_size=16)
)

SETTINGS = settings(max_examples=300, database=None, deadline=None)


@seed(20260610)
@SETTINGS
@given(cidr_lists)
def test_cidr_overlap_agrees_with_every_pair_compared(cidr_list: list[Cidr]) -> None:
    assert first_overlap(cidr_list) == brute_overlap(cidr_list)
    assert first_overlap(frozenset(cidr_list)) == brute_overlap(frozenset(cidr_list))


@seed(20260611)
@SETTINGS
@given(st.one_of(pair_lists, shared_pair_lists))
def test_spd_self_overlap_agrees_with_every_pair_compared(pairs: list[Pair]) -> None:
    assert first_self_overlap(pairs) == brute_self_overlap(pairs)


@seed(20260612)
@SETTINGS
@given(st.one_of(pair_lists, shared_pair_lists), st.one_of(pair_lists, shared_pair_lists))
def test_spd_overlap_across_policies_agrees_with_every_pair_compared(mine: list[Pair], others: list[Pair]) -> None:
    assert first_pair_overlap(mine, others) == brute_pair_overlap(mine, others)
    assert first_pair_overlap(mine, mine) == brute_pair_overlap(mine, mine)


def test_the_inputs_do_overlap_often() -> None:
    """The property tests are worth something only if overlaps are common in what they draw."""
    found = 0

    @seed(20260613)
    @settings(max_examples=300, database=None, deadline=None)
    @given(shared_pair_lists)
    def count(pairs: list[Pair]) -> None:
        nonlocal found
        found += brute_self_overlap(pairs) is not None

    count()
    assert found > 60


def test_known_answers() -> None:
    net = ipaddress.IPv4Network
    assert first_overlap([net("10.0.1.0/24"), net("10.0.0.0/16"), net("10.1.0.0/16")]) == (
        net("10.0.0.0/16"),
        net("10.0.1.0/24"),
    )
    assert first_overlap([net("10.0.0.0/24"), net("10.0.1.0/24")]) is None
    assert first_overlap([]) is None
    spd = parse_spd("10.0.5.0/24: 192.168.1.0/24\n10.0.0.0/16: 192.168.0.0/16\n10.1.0.0/16: 192.168.1.0/24")
    assert first_self_overlap(spd.pairs()) == (
        (net("10.0.0.0/16"), net("192.168.0.0/16")),
        (net("10.0.5.0/24"), net("192.168.1.0/24")),
    )
    disjoint_remotes = parse_spd("10.0.0.0/16: 192.168.1.0/24\n10.0.5.0/24: 192.168.2.0/24")
    assert first_self_overlap(disjoint_remotes.pairs()) is None
    same_local = parse_spd("10.0.0.0/16: 192.168.0.0/16, 192.168.7.0/24")
    assert first_self_overlap(same_local.pairs()) == (
        (net("10.0.0.0/16"), net("192.168.0.0/16")),
        (net("10.0.0.0/16"), net("192.168.7.0/24")),
    )
    assert first_pair_overlap(disjoint_remotes.pairs(), [(net("10.0.5.128/25"), net("192.168.0.0/16"))]) == (
        (net("10.0.0.0/16"), net("192.168.1.0/24")),
        (net("10.0.5.128/25"), net("192.168.0.0/16")),
    )
    assert first_pair_overlap(disjoint_remotes.pairs(), []) is None
