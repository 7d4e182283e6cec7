"""API 3.0 signing (TC3-HMAC-SHA256): the official vector step by step, and tencentcloud-sdk-python-common as an
independent implementation on generated requests (non-ASCII JSON included)."""

from __future__ import annotations

import hashlib
import hmac
import json
import string
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tencentcloud.common import abstract_client
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.credential import Credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign as CommonSign

from bot.tencent.signing import (
    TC3_ALGORITHM,
    TC3_CONTENT_TYPE,
    parse_tc3_authorization,
    tc3_authorization,
    tc3_canonical_request,
    tc3_date,
    tc3_signature,
    tc3_string_to_sign,
)

# The official vector (reference/tencent-cloud.md, section 7).
SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
HOST = "cvm.tencentcloudapi.com"
TIMESTAMP = 1551113065
PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
PAYLOAD_HASH = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
CANONICAL_REQUEST = (
    "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
    + PAYLOAD_HASH
)
CANONICAL_REQUEST_HASH = "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
STRING_TO_SIGN = f"TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n{CANONICAL_REQUEST_HASH}"
SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
    f"SignedHeaders=content-type;host, Signature={SIGNATURE}"
)
EXAMPLES = 250
VECTOR: dict[str, Any] = {"service": "cvm", "host": HOST, "timestamp": TIMESTAMP, "payload": PAYLOAD}


# 1. The official vector, every intermediate value


def test_vector_payload_is_the_documented_bytes() -> None:
    document = {"Limit": 1, "Filters": [{"Values": ["未命名"], "Name": "instance-name"}]}
    assert json.dumps(document).encode() == PAYLOAD  # Python's default JSON is the documented payload
    assert hashlib.sha256(PAYLOAD).hexdigest() == PAYLOAD_HASH


def test_vector_canonical_request_and_its_hash() -> None:
    canonical = tc3_canonical_request(host=HOST, payload=PAYLOAD)
    assert canonical == CANONICAL_REQUEST
    assert canonical.endswith("\n" + PAYLOAD_HASH)
    assert hashlib.sha256(canonical.encode()).hexdigest() == CANONICAL_REQUEST_HASH


def test_vector_date_and_string_to_sign() -> None:
    assert tc3_date(TIMESTAMP) == "2019-02-25"
    assert tc3_string_to_sign(CANONICAL_REQUEST, timestamp=TIMESTAMP, service="cvm") == STRING_TO_SIGN


def test_vector_derived_keys_and_signature() -> None:
    def step(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    signing = step(step(step(("TC3" + SECRET_KEY).encode(), "2019-02-25"), "cvm"), "tc3_request")
    assert hmac.new(signing, STRING_TO_SIGN.encode(), hashlib.sha256).hexdigest() == SIGNATURE
    assert tc3_signature(SECRET_KEY, **VECTOR) == SIGNATURE


def test_vector_authorization() -> None:
    assert tc3_authorization(SECRET_ID, SECRET_KEY, **VECTOR) == AUTHORIZATION
    assert parse_tc3_authorization(AUTHORIZATION) == (SECRET_ID, "2019-02-25", "cvm", "content-type;host", SIGNATURE)


def test_vector_with_the_sdk() -> None:
    assert CommonSign.sign_tc3(SECRET_KEY, "2019-02-25", "cvm", STRING_TO_SIGN) == SIGNATURE


# 2. Against tencentcloud-sdk-python-common, an independent implementation


class _SdkVpc(AbstractClient):  # type: ignore[misc]
    """The SDK's own client machinery for a service, as its generated clients (``tencentcloud.vpc``) declare it."""

    _apiVersion = "2017-03-12"  # noqa: N815 (the SDK's name)
    _endpoint = "vpc.tencentcloudapi.com"
    _service = "vpc"


def _sdk_client(host: str, secret_id: str, secret_key: str, token: str | None) -> _SdkVpc:
    profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=HttpProfile(endpoint=host))
    return _SdkVpc(Credential(secret_id, secret_key, token), "ap-guangzhou", profile)


def _sdk_build(client: _SdkVpc, action: str, params: dict[str, Any], timestamp: int) -> RequestInternal:
    """The SDK's full request building (headers, JSON body, Authorization) at a fixed clock."""
    request = RequestInternal(client._get_endpoint(), "POST", "/")
    clock = mock.Mock(time=mock.Mock(return_value=float(timestamp)))
    with mock.patch.object(abstract_client, "time", clock):
        client._build_req_with_tc3_signature(action, params, request)
    return request


def _sdk_signature_of_raw(body: str, host: str, content_type: str, timestamp: int, key: str, service: str) -> str:
    """The SDK's canonical-request-and-sign step on a body it did not serialise itself (raw UTF-8 JSON)."""
    request = RequestInternal(host, "POST", "/", {"Content-Type": content_type, "Host": host}, body)
    request.header["X-TC-Timestamp"] = str(timestamp)
    return str(AbstractClient._get_tc3_signature(None, {}, request, tc3_date(timestamp), service, key))


_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # Chinese
        st.sampled_from(list(' "\\/\n\t&=+%@?_{}[]:,é€😀')),
        st.characters(codec="utf-8"),
    ),
    max_size=20,
)
_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=12,
)
_params = st.dictionaries(
    st.one_of(st.sampled_from(["VpnConnectionName", "PreShareKey", "Filters", "Limit", "TaskId"]), _text),
    _json_values,
    max_size=6,
)
# The SDK's Credential refuses keys with surrounding white space (a key never has any).
_keys = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
).filter(lambda key: key.strip() == key)
_hosts = st.sampled_from(["vpc.tencentcloudapi.com", "cvm.tencentcloudapi.com", "127.0.0.1", "localhost"])
# Around the epoch's far side too, and many timestamps a second either side of UTC midnight.
_timestamps = st.one_of(
    st.integers(0, 4_102_444_800),
    st.integers(17_000, 20_000).flatmap(lambda day: st.sampled_from([day * 86400 - 1, day * 86400])),
)


def test_matches_the_sdk_full_request_building() -> None:
    ran: list[None] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(
        params=_params,
        secret_id=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=36),
        secret_key=_keys,
        host=_hosts,
        timestamp=_timestamps,
        token=st.one_of(st.none(), st.text(alphabet=string.ascii_letters, min_size=1, max_size=10)),
        action=st.sampled_from(["DescribeVpnConnections", "ModifyVpnConnectionAttribute", "DescribeVpcTaskResult"]),
    )
    def check(
        params: dict[str, Any],
        secret_id: str,
        secret_key: str,
        host: str,
        timestamp: int,
        token: str | None,
        action: str,
    ) -> None:
        sdk = _sdk_build(_sdk_client(host, secret_id, secret_key, token), action, params, timestamp)
        assert sdk.header["X-TC-Timestamp"] == str(timestamp)
        assert sdk.header.get("X-TC-Token") == token
        ours = tc3_authorization(
            secret_id,
            secret_key,
            service="vpc",
            host=sdk.header["Host"],
            timestamp=timestamp,
            payload=sdk.data.encode("utf-8"),
            content_type=sdk.header["Content-Type"],
        )
        assert ours == sdk.header["Authorization"]
        ran.append(None)

    check()
    assert len(ran) >= 200


def test_matches_the_sdk_on_raw_utf8_json() -> None:
    ran: list[None] = []
    non_ascii: list[None] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(
        params=_params,
        secret_key=_keys,
        host=_hosts,
        timestamp=_timestamps,
        service=st.sampled_from(["vpc", "cvm", "tag"]),
        content_type=st.sampled_from([TC3_CONTENT_TYPE, "application/json"]),
    )
    def check(
        params: dict[str, Any], secret_key: str, host: str, timestamp: int, service: str, content_type: str
    ) -> None:
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":"))
        payload = body.encode("utf-8")
        signature = tc3_signature(
            secret_key, service=service, host=host, timestamp=timestamp, payload=payload, content_type=content_type
        )
        assert signature == _sdk_signature_of_raw(body, host, content_type, timestamp, secret_key, service)
        canonical = tc3_canonical_request(host=host, payload=payload, content_type=content_type)
        text = tc3_string_to_sign(canonical, timestamp=timestamp, service=service)
        assert signature == CommonSign.sign_tc3(secret_key, tc3_date(timestamp), service, text)
        ran.append(None)
        if not body.isascii():
            non_ascii.append(None)

    check()
    assert len(ran) >= 200
    assert len(non_ascii) >= 50  # the generated bodies really carry raw non-ASCII UTF-8


# 3. What the signature covers


def _sig(**changes: Any) -> str:
    return tc3_signature(SECRET_KEY, **{**VECTOR, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"payload": PAYLOAD.replace(b"1", b"2")},
        {"payload": PAYLOAD + b" "},
        {"host": "vpc.tencentcloudapi.com"},
        {"service": "vpc"},
        {"timestamp": TIMESTAMP + 1},
        {"content_type": "application/json"},
        {"http_method": "GET"},
        {"canonical_uri": "/v3"},
        {"canonical_query": "Limit=1"},
    ],
)
def test_every_input_is_covered(changes: dict[str, Any]) -> None:
    assert _sig(**changes) != SIGNATURE


def test_header_values_are_trimmed_and_lower_cased_method_upper_cased() -> None:
    assert _sig(host="CVM.TencentCloudAPI.com ", content_type="Application/JSON; charset=UTF-8") == SIGNATURE
    assert _sig(http_method="post") == SIGNATURE


def test_date_is_utc() -> None:
    assert tc3_date(0) == "1970-01-01"
    assert tc3_date(1551139199) == "2019-02-25"  # 23:59:59 UTC, already the 26th in Beijing
    assert tc3_date(1551139200) == "2019-02-26"


def test_non_ascii_key_and_payload() -> None:
    body = json.dumps({"VpnConnectionName": "广州-上海 连接"}, ensure_ascii=False).encode()
    signature = tc3_signature("密钥-ключ", service="vpc", host="vpc.tencentcloudapi.com", timestamp=1, payload=body)
    assert len(signature) == 64
    assert int(signature, 16) >= 0


# 4. Errors never carry the key


def test_unencodable_key_raises_without_the_key() -> None:
    key = "top-secret-\ud800"
    with pytest.raises(ValueError, match="secret key") as caught:
        tc3_signature(key, **VECTOR)
    assert "top-secret" not in repr(caught.value.args)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_unrepresentable_timestamp_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        tc3_signature(SECRET_KEY, **{**VECTOR, "timestamp": 10**20})


# 5. Parsing an Authorization header


@pytest.mark.parametrize(
    "header",
    [
        "",
        "TC3-HMAC-SHA256",
        AUTHORIZATION.replace("TC3-HMAC-SHA256", "HMAC-SHA256"),
        AUTHORIZATION.replace("tc3_request", "aws4_request"),
        AUTHORIZATION.replace("2019-02-25", "2019-2-25"),
        AUTHORIZATION.replace(", SignedHeaders", " SignedHeaders"),
        AUTHORIZATION[:-1],
        AUTHORIZATION + "0",
        AUTHORIZATION.replace(SIGNATURE, SIGNATURE.upper()),
        AUTHORIZATION.replace("Credential=AKID", "Credential=AK/ID"),
        AUTHORIZATION.replace("content-type;host", ""),
        "Bearer abc",
    ],
)
def test_parse_rejects_malformed(header: str) -> None:
    assert parse_tc3_authorization(header) is None


def test_parse_reads_other_signed_headers_and_services() -> None:
    header = AUTHORIZATION.replace("/cvm/", "/vpc/").replace("content-type;host", "content-type;host;x-tc-action")
    assert parse_tc3_authorization(header) == (
        SECRET_ID,
        "2019-02-25",
        "vpc",
        "content-type;host;x-tc-action",
        SIGNATURE,
    )


def test_algorithm_constant() -> None:
    assert AUTHORIZATION.startswith(TC3_ALGORITHM + " ")
