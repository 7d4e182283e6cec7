"""5. Signing: signatures per second, ours against the SDKs', on the same inputs, in interleaved rounds.

- API 2.0 (HmacSHA256 and HmacSHA1): ``bot.tencent.signing.sign(key, string_to_sign("POST", host, path, params))``
  against ``QcloudApi.common.sign.Sign(id, key).make(host, path, params, "POST", method)`` from
  ``qcloudapi-sdk-python``, constructed per request as that SDK does. ``params`` is a real ``ModifyVpnConnEx``
  request: ``bot.tencent.wire.modify_params`` for the seed connection with a new name, new peer networks and changed
  IKE and IPsec blocks, plus the common parameters (34 parameters).
- API 3.0 (TC3-HMAC-SHA256): ``bot.tencent.signing.tc3_authorization`` against what
  ``tencentcloud-sdk-python-common`` does for the same header: the date of the timestamp,
  ``AbstractClient._get_tc3_signature`` (canonical request, string to sign, ``Sign.sign_tc3``) and the header text,
  over the ``ModifyVpnConnectionAttribute`` JSON body from ``bot.tencent.wire_v3.modify_payload``.

Each round times a batch of ours and a batch of theirs back to back (alternating which goes first) with the garbage
collector off (``timeit``); a figure is the median over rounds, and the ratio the median of the rounds' ratios.
"""

from __future__ import annotations

import json
import statistics
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from QcloudApi.common.sign import Sign as LegacySign
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.http.request import RequestInternal

from bench.results import Row, Target
from bench.sizes import Sizes
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, load_world
from bot.tencent.signing import TC3_CONTENT_TYPE, SignatureMethod, sign, string_to_sign, tc3_authorization
from bot.tencent.wire import modify_params
from bot.tencent.wire_v3 import modify_payload
from bot.vpn.connection import SecretFingerprints, connection_from_describe
from bot.vpn.edit import propose

HOST, PATH = "vpc.api.qcloud.com", "/v2/index.php"
V3_HOST = "vpc.tencentcloudapi.com"
TIMESTAMP = 1_700_000_000
EDITS = {
    "vpnConnName": "office-shanghai-2",
    "userGwCidrBlock": "10.100.2.0/24,10.100.3.0/24",
    "IKESet.dhGroupName": "group14",
    "IKESet.ikeSaLifetimeSeconds": "28800",
    "IPsecSet.pfsDhGroup": "dh-group2",
    "IPsecSet.ipsecSaLifetimeSeconds": "7200",
}


def _edit() -> tuple[Any, Any]:
    item = next(i for i in load_world(None).vpn_connections if i["unVpnConnId"] == "vpnx-ol6bcqp0")
    connection = connection_from_describe(item, fingerprints=SecretFingerprints.random())
    return connection, propose(connection.settings, EDITS)


def v2_params(method: SignatureMethod) -> dict[str, str]:
    connection, proposal = _edit()
    params = modify_params(connection, proposal)
    params.update(
        Action="ModifyVpnConnEx",
        Region="ap-guangzhou",
        Timestamp=str(TIMESTAMP),
        Nonce="1843029317",
        SecretId=DEMO_SECRET_ID,
        SignatureMethod=method,
    )
    return params


def v3_body() -> bytes:
    connection, proposal = _edit()
    return json.dumps(modify_payload(connection, proposal), ensure_ascii=False, separators=(",", ":")).encode()


def v2_pair(method: SignatureMethod) -> tuple[Callable[[], str], Callable[[], str]]:
    params = v2_params(method)

    def ours() -> str:
        return sign(DEMO_SECRET_KEY, string_to_sign("POST", HOST, PATH, params), method)

    def theirs() -> str:
        return str(LegacySign(DEMO_SECRET_ID, DEMO_SECRET_KEY).make(HOST, PATH, params, "POST", method))

    return ours, theirs


def tc3_pair() -> tuple[Callable[[], str], Callable[[], str]]:
    payload = v3_body()
    text = payload.decode()

    def ours() -> str:
        return tc3_authorization(
            DEMO_SECRET_ID, DEMO_SECRET_KEY, service="vpc", host=V3_HOST, timestamp=TIMESTAMP, payload=payload
        )

    def theirs() -> str:
        request = RequestInternal(V3_HOST, "POST", "/", {"Content-Type": TC3_CONTENT_TYPE, "Host": V3_HOST}, text)
        request.header["X-TC-Timestamp"] = str(TIMESTAMP)
        date = datetime.fromtimestamp(TIMESTAMP, UTC).strftime("%Y-%m-%d")
        signature = AbstractClient._get_tc3_signature(None, {}, request, date, "vpc", DEMO_SECRET_KEY)
        return (
            f"TC3-HMAC-SHA256 Credential={DEMO_SECRET_ID}/{date}/vpc/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={signature}"
        )

    return ours, theirs


def compare(ours: Callable[[], str], theirs: Callable[[], str], rounds: int, batch: int) -> tuple[float, float, float]:
    """(ours per second, theirs per second, ratio): medians over interleaved rounds."""
    if ours() != theirs():
        raise AssertionError("the two implementations disagree: the comparison would be meaningless")
    mine, others, ratios = [], [], []
    for n in range(rounds):
        order = (ours, theirs) if n % 2 == 0 else (theirs, ours)
        seconds = {fn: timeit.Timer(fn).timeit(batch) for fn in order}
        mine.append(batch / seconds[ours])
        others.append(batch / seconds[theirs])
        ratios.append(mine[-1] / others[-1])
    return statistics.median(mine), statistics.median(others), statistics.median(ratios)


def run(sizes: Sizes) -> tuple[list[Row], list[str]]:
    cases = [
        ("signing.v2_sha256", "API 2.0 HmacSHA256 vs qcloudapi-sdk-python (signatures/s)", v2_pair("HmacSHA256")),
        ("signing.v2_sha1", "API 2.0 HmacSHA1 vs qcloudapi-sdk-python (signatures/s)", v2_pair("HmacSHA1")),
        ("signing.tc3", "TC3-HMAC-SHA256 vs tencentcloud-sdk-python-common (signatures/s)", tc3_pair()),
    ]
    rows = []
    for key, figure, (ours, theirs) in cases:
        mine, others, ratio = compare(ours, theirs, sizes.signing_rounds, sizes.signing_batch)
        rows.append(Row("5 signing", key, figure, mine, others, ratio, Target(ratio_at_least=1)))
    notes = [
        f"Signing: {sizes.signing_rounds} interleaved rounds of {sizes.signing_batch} signatures each; the inputs are "
        f"a real ModifyVpnConnEx ({len(v2_params('HmacSHA256'))} parameters) and its API 3.0 JSON body "
        f"({len(v3_body())} bytes); both sides produce identical signatures (checked before timing).",
    ]
    return rows, notes
