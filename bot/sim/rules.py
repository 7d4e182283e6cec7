"""The world's own rules for an edit, written from the documents (``seed/ModifyVpnConnEx.md`` and
reference/tencent-cloud.md, sections 4 and 8), never from the client's rules: a wrong rule in vpnbot is caught here.

- name: 1 to 60 characters, unique among the connections of the VPC;
- pre-shared key: 1 to 128 characters (the console's limit; the documents give none);
- CIDRs strict IPv4 (``10.0.1.0/24``: a prefix length, no host bits, no leading zeros); an SPD holds at least one
  rule, each with at least one IDC-side CIDR; no two of its pairs overlap (nor a VPC-side CIDR its IDC-side one),
  and none overlaps a pair of another tunnel on the same gateway; a route-based tunnel has no SPD to edit;
- IKE SA lifetime 60-604800 s; IPsec SA lifetime 180-604800 s; IPsec SA traffic 2560-4294967295 KB;
- identities: ``ADDRESS`` needs an address (the local one defaults to the gateway's public IP), ``FQDN`` an FQDN
  name; addresses are IPv4;
- the GCM algorithms, and changing the customer gateway, need a 4.0 gateway;
- DPD timeout 30-60 s; health check on route-based tunnels only (``VpnConnCidrNotSupportedHealthCheck``), probe
  IPs IPv4 and distinct, ``ProbeType`` NQA, interval 1000-5000 ms, threshold 3-8, timeout 10-5000 ms;
- BGP settings on ``Bgp`` tunnels only, both BGP addresses inside the tunnel CIDR and distinct.

Block invariants (identities, lifetimes) are checked only when the edit touches the block, so an edit of the name
never fails on what the world file holds.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from bot.sim.model import (
    BgpConfig,
    Connection,
    ConnectionEdit,
    CustomerGateway,
    Dpd,
    Field,
    HealthCheck,
    IkeOptions,
    IpsecOptions,
    ProbeConfig,
    Problem,
    Reason,
    SpdRule,
    VpnGateway,
)
from bot.sim.values import GCM, Identity, RouteType

__all__ = [
    "DPD_TIMEOUT",
    "IKE_SA_LIFETIME",
    "IPSEC_SA_LIFETIME",
    "IPSEC_SA_TRAFFIC",
    "NAME_MAX",
    "PSK_MAX",
    "address_problem",
    "cidr_problem",
    "clashes",
    "edited",
    "fqdn_problem",
]

NAME_MAX: Final = 60
PSK_MAX: Final = 128
IKE_SA_LIFETIME: Final = (60, 604800)
IPSEC_SA_LIFETIME: Final = (180, 604800)
IPSEC_SA_TRAFFIC: Final = (2560, 4294967295)
DPD_TIMEOUT: Final = (30, 60)
PROBE_INTERVAL: Final = (1000, 5000)
PROBE_THRESHOLD: Final = (3, 8)
PROBE_TIMEOUT: Final = (10, 5000)
_SHOWN_MAX = 64
_CGW_ID = re.compile(r"cgw-[0-9a-z]{8}")
_FQDN_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")

Network = ipaddress.IPv4Network


def shown(text: str) -> str:
    """A request-supplied text, cut short enough to quote."""
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "..."


def cidr_problem(text: str) -> str | None:
    """Why ``text`` is not a strict IPv4 CIDR such as ``10.0.1.0/24``, or None when it is one."""
    try:
        network = ipaddress.IPv4Network(text, strict=True)
    except ValueError as error:
        why = "host bits set" if "host bits" in str(error) else "not an IPv4 CIDR such as 10.0.1.0/24"
        return f"{shown(text)!r}: {why}"
    if "/" not in text or str(network) != text:
        return f"{shown(text)!r}: not an IPv4 CIDR such as 10.0.1.0/24"
    return None


def address_problem(text: str) -> str | None:
    """Why ``text`` is not an IPv4 address such as 192.0.2.1, or None."""
    try:
        ok = str(ipaddress.IPv4Address(text)) == text
    except ValueError:
        ok = False
    return None if ok else f"{shown(text)!r} is not an IPv4 address"


def fqdn_problem(text: str) -> str | None:
    """Why ``text`` is not an FQDN such as vpn.example.com, or None."""
    labels = text.removesuffix(".").split(".")
    if len(text) <= 253 and all(_FQDN_LABEL.fullmatch(label) for label in labels):
        return None
    return f"{shown(text)!r} is not an FQDN such as vpn.example.com"


def _range(field: Field, value: int, bounds: tuple[int, int], unit: str = "") -> list[Problem]:
    low, high = bounds
    if low <= value <= high:
        return []
    return [Problem(Reason.OUT_OF_RANGE, field, f"{value} is out of range: must be {low} to {high}{unit}")]


# --- one connection ---------------------------------------------------------------------------------------------


def edited(
    connection: Connection,
    edit: ConnectionEdit,
    gateway: VpnGateway,
    customer_gateways: Mapping[str, CustomerGateway],
) -> tuple[Connection, list[Problem]]:
    """``connection`` with ``edit`` applied, and every problem the edit has on its own (see the module's
    docstring); :func:`clashes` checks it against the other connections."""
    problems: list[Problem] = []
    changes: dict[str, Any] = {}
    if edit.name is not None:
        changes["name"] = edit.name
        if not 1 <= len(edit.name) <= NAME_MAX:
            detail = "must not be empty" if not edit.name else f"at most {NAME_MAX} characters ({len(edit.name)})"
            problems.append(Problem(Reason.OUT_OF_RANGE, Field.NAME, detail))
    if edit.pre_shared_key is not None:
        changes["pre_shared_key"] = edit.pre_shared_key
        if not 1 <= len(edit.pre_shared_key) <= PSK_MAX:
            problems.append(Problem(Reason.OUT_OF_RANGE, Field.PRE_SHARED_KEY, f"1 to {PSK_MAX} characters"))
    spd = _spd(connection, edit, problems)
    if spd is not None:
        changes["spd"] = spd
    changes["ike"] = _ike(connection.ike, edit, gateway, problems)
    changes["ipsec"] = _ipsec(connection.ipsec, edit, gateway, problems)
    changes["dpd"] = _dpd(connection, edit, problems)
    if edit.negotiation is not None:
        changes["negotiation"] = edit.negotiation
    changes["health_check"] = _health_check(connection, edit, problems)
    changes["bgp"] = _bgp(connection, edit, problems)
    if edit.customer_gateway_id is not None:
        changes["customer_gateway"] = _customer_gateway(
            connection, edit.customer_gateway_id, gateway, customer_gateways, problems
        )
    return replace(connection, **changes), problems


def _spd(connection: Connection, edit: ConnectionEdit, problems: list[Problem]) -> tuple[SpdRule, ...] | None:
    if edit.spd is None and edit.remotes is None:
        return None
    which = Field.SPD if edit.spd is not None else Field.REMOTES
    if connection.route_type.route_based:
        detail = f"a {connection.route_type} tunnel is route-based: it has no SPD to edit"
        problems.append(Problem(Reason.INVALID_STATE, which, detail))
        return None
    if edit.spd is not None:
        rules = edit.spd
    else:
        remotes = edit.remotes or ()
        rules = tuple((local, remotes) for local in connection.local_cidrs())
        if not rules:
            detail = "the connection has no VPC-side CIDR to pair the IDC-side CIDRs with"
            problems.append(Problem(Reason.INVALID_VALUE, which, detail))
            return None
    found = _spd_problems(rules, which)
    problems.extend(found)
    return None if found else rules


def _spd_problems(rules: Sequence[SpdRule], which: Field) -> list[Problem]:
    if not rules:
        return [Problem(Reason.INVALID_VALUE, which, "give at least one rule: the SPD cannot be emptied")]
    problems = [
        Problem(Reason.MALFORMED, which, detail)
        for local, remotes in rules
        for text in (local, *remotes)
        if (detail := cidr_problem(text)) is not None
    ]
    problems += [
        Problem(Reason.INVALID_VALUE, which, f"{local} has no IDC-side CIDR") for local, remotes in rules if not remotes
    ]
    if problems:
        return problems
    parsed = [(Network(local), [Network(r) for r in remotes]) for local, remotes in rules]
    for local, remotes in parsed:
        clash = next((r for r in remotes if local.overlaps(r)), None)
        if clash is not None:
            detail = f"the VPC-side {local} and the IDC-side {clash} overlap"
            return [Problem(Reason.CIDR_CONFLICT, which, detail)]
    clash_pair = first_overlap(parsed, parsed, same=True)
    if clash_pair is not None:
        (a_local, a_remote), (b_local, b_remote) = clash_pair
        detail = f"{a_local} -> {a_remote} overlaps {b_local} -> {b_remote} in the same SPD"
        return [Problem(Reason.CIDR_CONFLICT, which, detail)]
    return []


def _ike(current: IkeOptions, edit: ConnectionEdit, gateway: VpnGateway, problems: list[Problem]) -> IkeOptions:
    changes = {name: value for name, value in vars(edit.ike).items() if value is not None}
    if not changes:
        return current
    ike: IkeOptions = replace(current, **changes)
    if ike.local_identity is Identity.ADDRESS and not ike.local_address:
        ike = replace(ike, local_address=gateway.address)  # the seed: localAddress defaults to the gateway's IP
    problems += _range(Field.IKE_SA_LIFETIME, ike.sa_lifetime_seconds, IKE_SA_LIFETIME, " seconds")
    checked: dict[Field, str] = {}
    for identity, address, fqdn, identity_field, address_field, fqdn_field in (
        (ike.local_identity, ike.local_address, ike.local_fqdn, *_LOCAL),
        (ike.remote_identity, ike.remote_address, ike.remote_fqdn, *_REMOTE),
    ):
        needed, needed_field = (address, address_field) if identity is Identity.ADDRESS else (fqdn, fqdn_field)
        if needed:
            checked[needed_field] = needed
        else:
            detail = "required when <related> is <value>"
            problems.append(Problem(Reason.INVALID_VALUE, needed_field, detail, identity_field, identity))
    for given_field, given in (
        (Field.IKE_LOCAL_ADDRESS, edit.ike.local_address),
        (Field.IKE_REMOTE_ADDRESS, edit.ike.remote_address),
        (Field.IKE_LOCAL_FQDN, edit.ike.local_fqdn),
        (Field.IKE_REMOTE_FQDN, edit.ike.remote_fqdn),
    ):
        if given:
            checked[given_field] = given
    for checked_field, text in checked.items():
        fqdn_kind = checked_field in (Field.IKE_LOCAL_FQDN, Field.IKE_REMOTE_FQDN)
        why = fqdn_problem(text) if fqdn_kind else address_problem(text)
        if why is not None:
            problems.append(Problem(Reason.MALFORMED, checked_field, why))
    if edit.ike.encryption is not None:
        problems += _gcm(Field.IKE_ENCRYPTION, edit.ike.encryption, gateway)
    return ike


_LOCAL: Final = (Field.IKE_LOCAL_IDENTITY, Field.IKE_LOCAL_ADDRESS, Field.IKE_LOCAL_FQDN)
_REMOTE: Final = (Field.IKE_REMOTE_IDENTITY, Field.IKE_REMOTE_ADDRESS, Field.IKE_REMOTE_FQDN)


def _ipsec(current: IpsecOptions, edit: ConnectionEdit, gateway: VpnGateway, problems: list[Problem]) -> IpsecOptions:
    changes = {name: value for name, value in vars(edit.ipsec).items() if value is not None}
    if not changes:
        return current
    ipsec: IpsecOptions = replace(current, **changes)
    problems += _range(Field.IPSEC_SA_LIFETIME, ipsec.sa_lifetime_seconds, IPSEC_SA_LIFETIME, " seconds")
    problems += _range(Field.IPSEC_SA_TRAFFIC, ipsec.sa_lifetime_traffic, IPSEC_SA_TRAFFIC, " KB")
    if edit.ipsec.encryption is not None:
        problems += _gcm(Field.IPSEC_ENCRYPTION, edit.ipsec.encryption, gateway)
    return ipsec


def _gcm(field: Field, value: str, gateway: VpnGateway) -> list[Problem]:
    if value not in GCM or gateway.runs_gcm:
        return []
    detail = f"{value} needs a 4.0 VPN gateway; {gateway.id} is version {gateway.version}"
    return [Problem(Reason.GATEWAY_VERSION, field, detail)]


def _dpd(connection: Connection, edit: ConnectionEdit, problems: list[Problem]) -> Dpd:
    dpd = connection.dpd
    if edit.dpd_enable is not None:
        dpd = replace(dpd, enabled=edit.dpd_enable)
    if edit.dpd_timeout is not None:
        problems += _range(Field.DPD_TIMEOUT, edit.dpd_timeout, DPD_TIMEOUT, " seconds")
        dpd = replace(dpd, timeout=edit.dpd_timeout)
    if edit.dpd_action is not None:
        dpd = replace(dpd, action=edit.dpd_action)
    return dpd


def _health_check(connection: Connection, edit: ConnectionEdit, problems: list[Problem]) -> HealthCheck:
    check = connection.health_check
    given = (edit.health_check, edit.health_check_local_ip, edit.health_check_remote_ip, edit.probe)
    if all(value is None for value in given):
        return check
    if edit.health_check is not None:
        check = replace(check, enabled=edit.health_check)
    if edit.health_check_local_ip is not None:
        check = replace(check, local_ip=edit.health_check_local_ip)
    if edit.health_check_remote_ip is not None:
        check = replace(check, remote_ip=edit.health_check_remote_ip)
    for field, ip in (
        (Field.HEALTH_CHECK_LOCAL_IP, edit.health_check_local_ip),
        (Field.HEALTH_CHECK_REMOTE_IP, edit.health_check_remote_ip),
    ):
        if ip and (why := address_problem(ip)) is not None:
            problems.append(Problem(Reason.MALFORMED, field, why))
    if edit.probe is not None:
        config = check.config or ProbeConfig()
        changes = {name: value for name, value in vars(edit.probe).items() if value is not None}
        config = replace(config, **changes)
        if config.probe_type != "NQA":
            problems.append(Problem(Reason.INVALID_VALUE, Field.PROBE_TYPE, "NQA is the only probe type"))
        problems += _range(Field.PROBE_INTERVAL, config.probe_interval, PROBE_INTERVAL, " ms")
        problems += _range(Field.PROBE_THRESHOLD, config.probe_threshold, PROBE_THRESHOLD)
        problems += _range(Field.PROBE_TIMEOUT, config.probe_timeout, PROBE_TIMEOUT, " ms")
        check = replace(check, config=config)
    if check.enabled and not connection.route_type.route_based:
        detail = f"a {connection.route_type} tunnel is an SPD tunnel: health checks run on route-based tunnels only"
        problems.append(Problem(Reason.HEALTH_CHECK_ON_SPD, Field.HEALTH_CHECK, detail))
    if check.local_ip and check.local_ip == check.remote_ip:
        detail = f"the local and the remote probe IP are both {check.local_ip}"
        problems.append(Problem(Reason.HEALTH_CHECK_IP_CONFLICT, Field.HEALTH_CHECK_REMOTE_IP, detail))
    return check


def _bgp(connection: Connection, edit: ConnectionEdit, problems: list[Problem]) -> BgpConfig | None:
    if edit.bgp is None:
        return connection.bgp
    if connection.route_type is not RouteType.BGP:
        detail = f"a {connection.route_type} tunnel has no BGP configuration: only Bgp tunnels do"
        problems.append(Problem(Reason.INVALID_STATE, Field.BGP_TUNNEL_CIDR, detail))
        return connection.bgp
    current = connection.bgp or BgpConfig("", "", "")
    changes = {name: value for name, value in vars(edit.bgp).items() if value is not None}
    bgp: BgpConfig = replace(current, **changes)
    if (why := cidr_problem(bgp.tunnel_cidr)) is not None:
        problems.append(Problem(Reason.MALFORMED, Field.BGP_TUNNEL_CIDR, why))
        return bgp
    tunnel = Network(bgp.tunnel_cidr)
    for field, ip in ((Field.BGP_LOCAL_IP, bgp.local_ip), (Field.BGP_REMOTE_IP, bgp.remote_ip)):
        if (why := address_problem(ip)) is not None:
            problems.append(Problem(Reason.MALFORMED, field, why))
        elif ipaddress.IPv4Address(ip) not in tunnel:
            problems.append(Problem(Reason.INVALID_VALUE, field, f"{ip} is not inside the tunnel CIDR {tunnel}"))
    if bgp.local_ip == bgp.remote_ip:
        problems.append(Problem(Reason.INVALID_VALUE, Field.BGP_REMOTE_IP, "must differ from the local BGP address"))
    return bgp


def _customer_gateway(
    connection: Connection,
    ref: str,
    gateway: VpnGateway,
    customer_gateways: Mapping[str, CustomerGateway],
    problems: list[Problem],
) -> CustomerGateway:
    if _CGW_ID.fullmatch(ref) is None:
        problems.append(
            Problem(Reason.MALFORMED, Field.CUSTOMER_GATEWAY, f"{shown(ref)!r} is not an id such as cgw-9k2pe1sx")
        )
    elif ref not in customer_gateways:
        problems.append(Problem(Reason.NOT_FOUND, Field.CUSTOMER_GATEWAY, f"customer gateway {ref} does not exist"))
    elif not gateway.runs_gcm and ref != connection.customer_gateway.id:
        detail = f"changing the customer gateway needs a 4.0 VPN gateway; {gateway.id} is version {gateway.version}"
        problems.append(Problem(Reason.GATEWAY_VERSION, Field.CUSTOMER_GATEWAY, detail))
    else:
        return customer_gateways[ref]
    return connection.customer_gateway


# --- against the other connections ------------------------------------------------------------------------------


def clashes(before: Connection, after: Connection, edit: ConnectionEdit, others: Iterable[Connection]) -> list[Problem]:
    """What ``after`` (the edit of ``before``) clashes with among ``others`` (every other connection): a name
    taken in the VPC, an SPD pair overlapping another tunnel's on the gateway, a probe IP another tunnel of the
    gateway uses."""
    problems: list[Problem] = []
    others = [o for o in others if o.id != after.id]
    if after.name != before.name:
        taken = next((o for o in others if o.vpc_id == after.vpc_id and o.name == after.name), None)
        if taken is not None:
            detail = f"already used by VPN connection {taken.id} in this VPC"
            problems.append(Problem(Reason.NAME_TAKEN, Field.NAME, detail))
    neighbours = [o for o in others if o.gateway_id == after.gateway_id]
    if after.spd != before.spd and after.spd:
        problems += _spd_clash(after, neighbours, Field.SPD if edit.spd is not None else Field.REMOTES)
    check = after.health_check
    if check.enabled and check.local_ip and check != before.health_check:
        user = next(
            (o for o in neighbours if o.health_check.enabled and o.health_check.local_ip == check.local_ip), None
        )
        if user is not None:
            detail = f"{check.local_ip} is the probe IP of VPN connection {user.id} on the same VPN gateway"
            problems.append(Problem(Reason.HEALTH_CHECK_IP_CONFLICT, Field.HEALTH_CHECK_LOCAL_IP, detail))
    return problems


def _spd_clash(after: Connection, neighbours: Sequence[Connection], which: Field) -> list[Problem]:
    mine = _parsed(after.spd)
    for other in neighbours:
        clash = first_overlap(mine, _parsed(other.spd))
        if clash is not None:
            (a_local, a_remote), (b_local, b_remote) = clash
            detail = (
                f"{a_local} -> {a_remote} overlaps {b_local} -> {b_remote} of VPN connection {other.id} on the "
                "same VPN gateway"
            )
            return [Problem(Reason.SPD_OVERLAP, which, detail)]
    return []


Parsed = list[tuple[Network, list[Network]]]
Pair = tuple[Network, Network]


def _parsed(spd: Sequence[SpdRule]) -> Parsed:
    return [(Network(local), [Network(r) for r in remotes]) for local, remotes in spd]


def first_overlap(mine: Parsed, theirs: Parsed, *, same: bool = False) -> tuple[Pair, Pair] | None:
    """The first pair of ``mine`` overlapping a pair of ``theirs`` (both CIDRs of a pair overlap the other's).

    ``same``: ``theirs`` is ``mine``, and a pair does not overlap itself. Sorted sweeps, so a rule with hundreds of
    IDC-side CIDRs is checked in n log n, not n squared.
    """
    for i, (a_local, a_remotes) in enumerate(mine):
        for j, (b_local, b_remotes) in enumerate(theirs):
            if (same and j < i) or not a_local.overlaps(b_local):
                continue
            hit = _within(a_remotes) if same and i == j else _across(a_remotes, b_remotes)
            if hit is not None:
                return (a_local, hit[0]), (b_local, hit[1])
    return None


def _within(networks: Sequence[Network]) -> Pair | None:
    ordered = sorted(networks, key=lambda n: (int(n.network_address), -n.num_addresses))
    widest: Network | None = None
    for network in ordered:
        if widest is not None and int(network.network_address) <= int(widest.broadcast_address):
            return widest, network
        if widest is None or int(network.broadcast_address) > int(widest.broadcast_address):
            widest = network
    return None


def _across(mine: Sequence[Network], theirs: Sequence[Network]) -> Pair | None:
    ordered = sorted(theirs, key=lambda n: int(n.network_address))
    starts = [int(n.network_address) for n in ordered]
    reach: list[int] = []  # the furthest end among theirs[: k + 1]
    for network in ordered:
        reach.append(max(int(network.broadcast_address), reach[-1] if reach else -1))
    for network in mine:
        start, end = int(network.network_address), int(network.broadcast_address)
        k = bisect.bisect_right(starts, end) - 1  # theirs starting at or before my end
        if k >= 0 and reach[k] >= start:
            return network, next(t for t in ordered[: k + 1] if int(t.broadcast_address) >= start)
    return None
