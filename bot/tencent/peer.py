"""Tencent's configuration for the peer device (API 3.0 only): the vendors it can write one for, the request for
one, and reading both answers. Pure, no I/O.

Shapes as the official SDK models them (``tencentcloud.vpc.v20170312.models``): ``DescribeCustomerGatewayVendors``
takes nothing and answers ``CustomerGatewayVendorSet``, a list of ``CustomerGatewayVendor`` objects
(``VendorName``, ``Platform``, ``SoftwareVersion``); ``DownloadCustomerGatewayConfiguration`` takes
``VpnGatewayId``, ``VpnConnectionId``, ``CustomerGatewayVendor`` (that object) and ``InterfaceName`` (the API page
marks all four required, so ``InterfaceName`` is always sent, empty when the caller names no interface) and answers
``CustomerGatewayConfiguration``, a text.

That text may hold the connection's pre-shared key in plain text. It is handed back as it is (whoever shows it
redacts it first) and never goes into a log line or an exception: a malformed answer is a ResponseError that names
the field and the fault, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.tencent.errors import ResponseError
from bot.vpn.connection import TEXT_MAX, VpnConnection

__all__ = [
    "CONFIGURATION_MAX_BYTES",
    "DOWNLOAD",
    "VENDORS",
    "VENDORS_MAX",
    "GatewayVendor",
    "configuration_payload",
    "parse_vendor",
    "read_configuration",
    "read_vendors",
]

VENDORS = "DescribeCustomerGatewayVendors"
DOWNLOAD = "DownloadCustomerGatewayConfiguration"
CONFIGURATION_MAX_BYTES = 256 * 1024
"""The largest configuration text read (UTF-8): Tencent's examples are a few KB; anything bigger is not one."""
VENDORS_MAX = 1000
"""The most vendors read: Tencent lists a handful."""
_VENDOR_SET = "CustomerGatewayVendorSet"
_CONFIGURATION = "CustomerGatewayConfiguration"
_QUOTE_MAX = 60


@dataclass(frozen=True)
class GatewayVendor:
    """A device Tencent can write a peer configuration for, spelled as Tencent lists it (``h3c``, ``comware``,
    ``V1.0``). The download needs it spelled exactly so: take it from :func:`read_vendors` or :func:`parse_vendor`."""

    vendor: str
    platform: str
    software_version: str

    def __str__(self) -> str:
        return f"{self.vendor}/{self.platform}/{self.software_version}"


def read_vendors(response: Mapping[str, Any]) -> list[GatewayVendor]:
    """The vendors of a ``DescribeCustomerGatewayVendors`` answer, in Tencent's order, each once. ResponseError
    (naming the field) when the set is missing or not a list of at most ``VENDORS_MAX`` objects of three short
    printable texts (``VendorName`` not empty): one malformed vendor fails the read, since a configured vendor
    that had been skipped would then read as unknown."""
    items = response.get(_VENDOR_SET)
    if not isinstance(items, list):
        raise ResponseError(VENDORS, f"the answer has no {_VENDOR_SET} list")
    if len(items) > VENDORS_MAX:
        raise ResponseError(VENDORS, f"{_VENDOR_SET} lists more than {VENDORS_MAX} vendors")
    vendors: list[GatewayVendor] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ResponseError(VENDORS, f"{_VENDOR_SET}[{index}] is not an object")
        vendor = GatewayVendor(
            vendor=_vendor_text(item, index, "VendorName", required=True),
            platform=_vendor_text(item, index, "Platform"),
            software_version=_vendor_text(item, index, "SoftwareVersion"),
        )
        if vendor not in vendors:
            vendors.append(vendor)
    return vendors


def _vendor_text(item: Mapping[str, Any], index: int, field: str, *, required: bool = False) -> str:
    raw = item.get(field)
    where = f"{_VENDOR_SET}[{index}].{field}"
    if raw is None or raw == "":
        if required:
            raise ResponseError(VENDORS, f"{where} is missing or empty")
        return ""
    if not isinstance(raw, str):
        raise ResponseError(VENDORS, f"{where} is not text")
    if len(raw) > TEXT_MAX or not raw.isprintable():
        raise ResponseError(VENDORS, f"{where} is not a printable name of at most {TEXT_MAX} characters")
    return raw


def configuration_payload(connection: VpnConnection, vendor: GatewayVendor, interface_name: str = "") -> dict[str, Any]:
    """``DownloadCustomerGatewayConfiguration``'s JSON object for ``connection`` and ``vendor``. ValueError (nothing
    is sent) for an ``interface_name`` that is not a short printable name without white space at either end."""
    if len(interface_name) > TEXT_MAX or not interface_name.isprintable() or interface_name != interface_name.strip():
        raise ValueError(
            f"the interface name must be at most {TEXT_MAX} printable characters, without spaces at either end"
        )
    return {
        "VpnGatewayId": connection.vpn_gw_id,
        "VpnConnectionId": connection.vpn_conn_id,
        "CustomerGatewayVendor": {
            "Platform": vendor.platform,
            "SoftwareVersion": vendor.software_version,
            "VendorName": vendor.vendor,
        },
        "InterfaceName": interface_name,
    }


def read_configuration(response: Mapping[str, Any]) -> str:
    """``CustomerGatewayConfiguration`` as Tencent wrote it (it may hold the pre-shared key; it may be empty).
    ResponseError when it is missing, not text, not valid Unicode or larger than ``CONFIGURATION_MAX_BYTES``."""
    text = response.get(_CONFIGURATION)
    if not isinstance(text, str):
        raise ResponseError(DOWNLOAD, f"the answer has no {_CONFIGURATION} text")
    if len(text) > CONFIGURATION_MAX_BYTES:
        raise _too_large()
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        failure = ResponseError(DOWNLOAD, f"{_CONFIGURATION} is not valid Unicode (a lone surrogate)")
    else:
        if size <= CONFIGURATION_MAX_BYTES:
            return text
        failure = _too_large()
    raise failure  # outside the handler: the encoding error's text quotes the configuration


def _too_large() -> ResponseError:
    return ResponseError(DOWNLOAD, f"{_CONFIGURATION} is larger than {CONFIGURATION_MAX_BYTES // 1024} KiB")


def parse_vendor(text: str, known: Sequence[GatewayVendor]) -> GatewayVendor:
    """The vendor ``text`` names (``VPNBOT_PEER_VENDOR``'s value): ``VENDOR[/PLATFORM[/VERSION]]``, compared without
    regard to case or surrounding spaces, matched against ``known`` (Tencent's list); the first match fills the
    parts left out. ValueError saying what is wrong and listing ``known`` (as ``VENDOR/PLATFORM/VERSION``)."""
    parts = [part.strip() for part in text.split("/")]
    if not known:
        raise ValueError("Tencent Cloud lists no customer gateway vendors to choose from")
    listed = f"Tencent Cloud knows {', '.join(map(str, known))}"
    if not text.strip():
        raise ValueError(f"the peer vendor is empty: give VENDOR[/PLATFORM[/VERSION]]; {listed}")
    if len(parts) > 3 or not all(parts):
        raise ValueError(f"{_quoted(text)} is not VENDOR[/PLATFORM[/VERSION]] (no empty parts); {listed}")
    wanted = [part.casefold() for part in parts]
    matches = list(known)
    for depth, (part, name) in enumerate(zip(wanted, ("vendor", "platform", "version"), strict=False)):
        narrowed = [v for v in matches if _parts(v)[depth].strip().casefold() == part]
        if not narrowed:
            if depth == 0:
                raise ValueError(f"unknown peer vendor {_quoted(parts[0])}; {listed}")
            scope = "/".join(_parts(matches[0])[:depth])
            offered = ", ".join(dict.fromkeys(_parts(v)[depth] or "(none)" for v in matches))
            raise ValueError(f"{scope} has no {name} {_quoted(parts[depth])}: Tencent Cloud offers {offered}")
        matches = narrowed
    return matches[0]


def _parts(vendor: GatewayVendor) -> tuple[str, str, str]:
    return vendor.vendor, vendor.platform, vendor.software_version


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _QUOTE_MAX else text[:_QUOTE_MAX] + "…")
