"""Tencent Cloud request signing: API 2.0 (HmacSHA1 / HmacSHA256) and API 3.0 (TC3-HMAC-SHA256).

Pure functions, no I/O. The same primitives serve the clients (to sign) and the simulator (to verify).
Nothing here logs, and no exception raised here carries a secret key or a signature.

Algorithm (reference/tencent-cloud.md, section 1): take every parameter except ``Signature``, replace ``_``
with ``.`` in the names (never in the values), sort by name in plain byte order, join ``name=value`` with ``&``
using the raw values (no URL encoding), prefix ``METHOD + host + path + "?"``, HMAC that with the SecretKey and
Base64 the digest. Encoding the parameters for the wire is the caller's job, done once, after signing.

TC3-HMAC-SHA256 (reference/tencent-cloud.md, section 7): a canonical request (method, URI, query, the two signed
headers ``content-type`` and ``host`` lower-cased and trimmed as the documentation asks, and the SHA-256 of the exact
body bytes) is hashed into a string to sign with the timestamp and the credential scope ``<UTC date>/<service>/
tc3_request``; the key is derived ``"TC3" + SecretKey -> date -> service -> "tc3_request"`` by chained HMAC-SHA256,
and the signature is the hex HMAC-SHA256 of the string to sign. The body is signed as bytes, so the caller signs
exactly what it sends (serialise the JSON once, then sign and send those bytes).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

__all__ = [
    "TC3_ALGORITHM",
    "TC3_CONTENT_TYPE",
    "TC3_SIGNED_HEADERS",
    "SignatureMethod",
    "parse_tc3_authorization",
    "sign",
    "signature_method_of",
    "string_to_sign",
    "tc3_authorization",
    "tc3_canonical_request",
    "tc3_date",
    "tc3_signature",
    "tc3_string_to_sign",
    "verify",
]

SignatureMethod = Literal["HmacSHA1", "HmacSHA256"]

_SIGNATURE = "Signature"
_DIGESTS = {"HmacSHA1": hashlib.sha1, "HmacSHA256": hashlib.sha256}


def string_to_sign(http_method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    """Return ``METHOD + host + path + "?" + canonical query`` for ``params``.

    ``METHOD`` is ``http_method`` upper-cased; ``host`` and ``path`` are used as given (host without scheme or
    port, as the server sees it). The canonical query holds every parameter except ``Signature``, names with
    ``_`` replaced by ``.``, sorted by the UTF-8 bytes of those names (``InstanceIds.12`` before
    ``InstanceIds.2``, upper case before lower case), joined ``name=value`` with ``&``, values raw and unchanged.

    Raises ``ValueError`` (naming the parameters, never their values) when two names become the same after the
    ``_`` -> ``.`` replacement, e.g. ``a_b`` and ``a.b``: such a request has no unambiguous signature. A name that
    is not valid UTF-8 (a lone surrogate) gives a text that :func:`sign` refuses.

    Sorting the names as Python strings is sorting them by their UTF-8 bytes: UTF-8 keeps code-point order.
    """
    canonical: dict[str, str] = {}
    for name, value in params.items():
        if name == _SIGNATURE:
            continue
        key = name.replace("_", ".")
        if key in canonical:
            raise ValueError(f"parameter names collide once '_' is read as '.': {key!r}")
        canonical[key] = value
    query = "&".join(f"{key}={canonical[key]}" for key in sorted(canonical))
    return f"{http_method.upper()}{host}{path}?{query}"


def sign(secret_key: str, text: str, method: SignatureMethod) -> str:
    """Return the Base64 of HMAC-SHA1 or HMAC-SHA256 (per ``method``) of ``text`` keyed by ``secret_key``.

    Both key and text are encoded as UTF-8. The result is the ``Signature`` value before any URL encoding.
    Raises ``ValueError`` (never showing the key) for a method other than ``HmacSHA1`` / ``HmacSHA256`` or for
    text or a key that cannot be encoded as UTF-8 (lone surrogates).
    """
    digest = _DIGESTS.get(method)
    if digest is None:
        raise ValueError(f"unsupported signature method {method!r}: expected 'HmacSHA1' or 'HmacSHA256'")
    try:
        key: bytes | None = secret_key.encode("utf-8")
    except UnicodeEncodeError:
        key = None
    if key is None:  # raised outside the handler: the UnicodeEncodeError (it holds the key) is not chained
        raise ValueError("secret key is not encodable as UTF-8")
    try:
        data: bytes | None = text.encode("utf-8")
    except UnicodeEncodeError as error:
        data, position = None, error.start
    if data is None:  # not chained: the UnicodeEncodeError holds the whole text, and the text can hold a new key
        raise ValueError(f"the text to sign is not valid UTF-8 (a lone surrogate at position {position})")
    mac = hmac.new(key, data, digest)
    return base64.b64encode(mac.digest()).decode("ascii")


def signature_method_of(params: Mapping[str, str]) -> SignatureMethod:
    """Return the method the service uses for ``params``: ``HmacSHA256`` only when ``SignatureMethod`` is
    exactly ``HmacSHA256``; anything else, or no ``SignatureMethod`` at all, means ``HmacSHA1``."""
    return "HmacSHA256" if params.get("SignatureMethod") == "HmacSHA256" else "HmacSHA1"


def verify(secret_key: str, http_method: str, host: str, path: str, params: Mapping[str, str]) -> bool:
    """Return True when ``params['Signature']`` is the signature of ``params`` for this method, host and path.

    The HMAC is the one ``signature_method_of(params)`` picks; the comparison is constant-time
    (``hmac.compare_digest`` on bytes, so any received text is accepted). Returns False, never raises, when
    ``Signature`` is missing or does not match, when names collide (see ``string_to_sign``), or when the
    parameters or the key cannot be encoded as UTF-8.
    """
    received = params.get(_SIGNATURE)
    if received is None:
        return False
    try:
        expected = sign(secret_key, string_to_sign(http_method, host, path, params), signature_method_of(params))
    except ValueError:  # colliding names, or text that is not valid UTF-8
        return False
    return hmac.compare_digest(expected.encode("ascii"), received.encode("utf-8", "surrogatepass"))


# --- API 3.0: TC3-HMAC-SHA256 ----------------------------------------------------------------------------------------

TC3_ALGORITHM = "TC3-HMAC-SHA256"
TC3_SIGNED_HEADERS = "content-type;host"
TC3_CONTENT_TYPE = "application/json; charset=utf-8"
_TC3_TERMINATOR = "tc3_request"
_TC3_AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<secret_id>[^/\s,]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z0-9-]+)"
    r"/tc3_request, SignedHeaders=(?P<signed>[a-z0-9-]+(?:;[a-z0-9-]+)*), Signature=(?P<signature>[0-9a-f]{64})"
)


def tc3_date(timestamp: int) -> str:
    """The UTC date (``YYYY-MM-DD``) of the unix ``timestamp``: the date of the credential scope.

    Raises ValueError for a timestamp that is not a representable date.
    """
    return _utc_date(int(timestamp) // 86400)


@functools.lru_cache(maxsize=8)
def _utc_date(day: int) -> str:
    """The date of the ``day``-th day since the epoch (cached: one computation a day, not three a signature)."""
    try:
        moment: datetime | None = datetime.fromtimestamp(day * 86400, tz=UTC)
    except (OverflowError, OSError, ValueError):
        moment = None
    if moment is None:
        raise ValueError(f"timestamp of day {day} is not a representable date")
    return moment.strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=16)
def _tc3_signing_key(secret_key: bytes, date: str, service: str) -> bytes:
    """The derived TC3 key for one (key, date, service): the same all day, so derived once (held in memory only,
    as the secret key itself is)."""
    key = secret_key
    for part in (date, service, _TC3_TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def tc3_canonical_request(
    *,
    host: str,
    payload: bytes,
    content_type: str = TC3_CONTENT_TYPE,
    http_method: str = "POST",
    canonical_uri: str = "/",
    canonical_query: str = "",
) -> str:
    """The TC3 canonical request: ``METHOD\\nURI\\nQUERY\\ncontent-type:...\\nhost:...\\n\\nSIGNED\\nsha256(payload)``.

    ``METHOD`` is upper-cased; the two header values are trimmed and lower-cased (the documented rule; the values
    themselves are sent as they are). ``payload`` is hashed as given: the exact bytes of the body (empty for GET).
    """
    headers = f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n"
    payload_hash = hashlib.sha256(payload).hexdigest()
    return "\n".join([http_method.upper(), canonical_uri, canonical_query, headers, TC3_SIGNED_HEADERS, payload_hash])


def tc3_string_to_sign(canonical_request: str, *, timestamp: int, service: str) -> str:
    """``TC3-HMAC-SHA256\\n<timestamp>\\n<date>/<service>/tc3_request\\n<sha256 hex of the canonical request>``.

    Raises ValueError for a canonical request that is not valid UTF-8 text (a lone surrogate).
    """
    scope = f"{tc3_date(timestamp)}/{service}/{_TC3_TERMINATOR}"
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{TC3_ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def tc3_signature(
    secret_key: str,
    *,
    service: str,
    host: str,
    timestamp: int,
    payload: bytes,
    content_type: str = TC3_CONTENT_TYPE,
    http_method: str = "POST",
    canonical_uri: str = "/",
    canonical_query: str = "",
) -> str:
    """The hex TC3-HMAC-SHA256 signature of one request (signed headers ``content-type;host``).

    ``host`` is the ``Host`` header as sent (port included when there is one, as the SDK signs it); ``timestamp`` is the ``X-TC-Timestamp`` (unix seconds)
    whose UTC date scopes the key. Raises ValueError, never showing the key, for a key or text that is not valid
    UTF-8 (lone surrogates) or a timestamp out of range.
    """
    canonical = tc3_canonical_request(
        host=host,
        payload=payload,
        content_type=content_type,
        http_method=http_method,
        canonical_uri=canonical_uri,
        canonical_query=canonical_query,
    )
    text = tc3_string_to_sign(canonical, timestamp=timestamp, service=service)
    try:
        key: bytes | None = ("TC3" + secret_key).encode("utf-8")
    except UnicodeEncodeError:
        key = None
    if key is None:  # raised outside the handler: the UnicodeEncodeError (it holds the key) is not chained
        raise ValueError("secret key is not encodable as UTF-8")
    signing_key = _tc3_signing_key(key, tc3_date(timestamp), service)
    return hmac.new(signing_key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def tc3_authorization(
    secret_id: str,
    secret_key: str,
    *,
    service: str,
    host: str,
    timestamp: int,
    payload: bytes,
    content_type: str = TC3_CONTENT_TYPE,
    http_method: str = "POST",
    canonical_uri: str = "/",
    canonical_query: str = "",
) -> str:
    """The ``Authorization`` header value: ``TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
    SignedHeaders=content-type;host, Signature=<hex>``. Arguments and errors as for :func:`tc3_signature`."""
    signature = tc3_signature(
        secret_key,
        service=service,
        host=host,
        timestamp=timestamp,
        payload=payload,
        content_type=content_type,
        http_method=http_method,
        canonical_uri=canonical_uri,
        canonical_query=canonical_query,
    )
    scope = f"{tc3_date(timestamp)}/{service}/{_TC3_TERMINATOR}"
    return f"{TC3_ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={TC3_SIGNED_HEADERS}, Signature={signature}"


def parse_tc3_authorization(header: str) -> tuple[str, str, str, str, str] | None:
    """``(secret_id, date, service, signed_headers, signature)`` from an ``Authorization`` value, or None when it
    is not exactly the TC3 form :func:`tc3_authorization` writes (a verifier then answers with an auth failure).

    Only the shape is checked here (hex signature of 64 digits, ``YYYY-MM-DD`` date, lower-case service and header
    names); whether the date is the timestamp's and the signature is right is the verifier's business.
    """
    match = _TC3_AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        return None
    return match["secret_id"], match["date"], match["service"], match["signed"], match["signature"]
