"""Tencent Cloud API 2.0 request signing (HmacSHA1 / HmacSHA256).

Pure functions, no I/O. The same primitive serves the client (to sign) and the simulator (to verify).
Nothing here logs, and no exception raised here carries a secret key or a signature.

Algorithm (reference/tencent-cloud.md, section 1): take every parameter except ``Signature``, replace ``_``
with ``.`` in the names (never in the values), sort by name in plain byte order, join ``name=value`` with ``&``
using the raw values (no URL encoding), prefix ``METHOD + host + path + "?"``, HMAC that with the SecretKey and
Base64 the digest. Encoding the parameters for the wire is the caller's job, done once, after signing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

__all__ = ["SignatureMethod", "sign", "signature_method_of", "string_to_sign", "verify"]

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
    ``_`` -> ``.`` replacement, e.g. ``a_b`` and ``a.b``: such a request has no unambiguous signature; and
    ``UnicodeEncodeError`` (a ``ValueError``) for a name that is not valid UTF-8 (a lone surrogate).
    """
    canonical: dict[str, str] = {}
    for name, value in params.items():
        if name == _SIGNATURE:
            continue
        key = name.replace("_", ".")
        if key in canonical:
            raise ValueError(f"parameter names collide once '_' is read as '.': {key!r}")
        canonical[key] = value
    query = "&".join(f"{key}={canonical[key]}" for key in sorted(canonical, key=lambda k: k.encode("utf-8")))
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
    mac = hmac.new(key, text.encode("utf-8"), digest)
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
