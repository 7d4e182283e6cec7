"""The store key: where it comes from, the key file, the keys derived from it, and the key check in ``meta``.

The Fernet key is ``VPNBOT_STORE_KEY`` when set, else ``<state file>.key`` (created 0600 from its first instant).
Everything secret the store keeps depends on it: the pre-shared keys (Fernet tokens) and the audit chain (an
HMAC key derived from it). The key check is a Fernet token kept in ``meta``: it tells at open whether the key
given is the one the file was written with, and, under that key, how many audit records an older vpnbot wrote with
the unkeyed hash (see :mod:`bot.store.chain`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from bot.store.errors import StoreKeyError

__all__ = ["ENV_KEY", "KeyCheck", "create_key_file", "derive_key", "fernet_from", "key_file_path", "read_key_file"]

log = logging.getLogger("bot.store")

ENV_KEY = "VPNBOT_STORE_KEY"
_CHECK_V1 = b"vpnbot store key check"
_CHECK_NAME = "vpnbot store key check"


def key_file_path(state_path: Path) -> Path:
    """Where the store key lives when ``VPNBOT_STORE_KEY`` is not given: ``<state path>.key``."""
    return state_path.with_name(state_path.name + ".key")


def derive_key(material: bytes, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` from the store key's text: stable across restarts, secret like it."""
    return hmac.new(material, b"vpnbot:" + purpose.encode(), hashlib.sha256).digest()


def fernet_from(text: str, source: str) -> Fernet:
    """The Fernet of ``text``; StoreKeyError naming ``source`` when it is not a Fernet key."""
    try:
        return Fernet(text.strip().encode())
    except (ValueError, TypeError):
        raise StoreKeyError(
            f"{source} is not a valid store key: it must be 32 url-safe base64-encoded bytes, as printed by "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None


def read_key_file(key_path: Path) -> str | None:
    """The key file's text, or None when there is none; StoreKeyError when it exists but cannot be read."""
    try:
        mode = key_path.stat().st_mode
        text = key_path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StoreKeyError(f"cannot read the key file {key_path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the key file %s is readable by others: chmod 600 it", key_path)
    return text


def create_key_file(key_path: Path) -> str:
    """A new key in a new key file, 0600 from the first instant; the other's key when another process made the file
    first."""
    try:
        fd = os.open(key_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        text = read_key_file(key_path)
        if text is None:
            raise StoreKeyError(f"the key file {key_path} vanished while it was being made") from None
        return text
    except OSError as error:
        raise StoreKeyError(f"cannot create the key file {key_path}: {error.strerror}") from None
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
        file.flush()
        os.fsync(file.fileno())
    log.info("created the store key file %s; keep it with the state file (or set %s)", key_path, ENV_KEY)
    return key.decode()


@dataclass(frozen=True)
class KeyCheck:
    """What the key check says, once decrypted. Version 1 (an older vpnbot) says only that the key is right;
    version 2 adds how many audit records an older vpnbot wrote with the unkeyed hash before this vpnbot first
    opened the file (``unkeyed_audit_records``), and whether the check had to be made again for a file that
    already held data (``recreated``: it was deleted, so nothing vouches for those unkeyed records)."""

    version: int
    unkeyed_audit_records: int | None = None
    recreated: bool = False

    def token(self, fernet: Fernet) -> str:
        text = {
            "check": _CHECK_NAME,
            "version": 2,
            "unkeyed_audit_records": self.unkeyed_audit_records or 0,
            "recreated": self.recreated,
        }
        return fernet.encrypt(json.dumps(text, sort_keys=True).encode()).decode()

    @classmethod
    def read(cls, fernet: Fernet, token: str) -> KeyCheck:
        """The check in ``token``; raises InvalidToken when ``fernet`` is not the key it was made with."""
        plain = fernet.decrypt(token.encode())
        if plain == _CHECK_V1:
            return cls(1)
        try:
            data = json.loads(plain)
            if data.get("check") != _CHECK_NAME:
                raise ValueError("not a key check")
            return cls(int(data["version"]), int(data["unkeyed_audit_records"]), bool(data["recreated"]))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise InvalidToken from None
