"""Which Tencent Cloud API dialect the end-to-end tests speak: both, one run each (the ``cloud_api`` fixture in
conftest.py sets it), so the whole flow is proven under API 2.0 (the seed's) and API 3.0.

What differs between the two is said here once: the endpoint, and the words the cloud uses for the same faults.
"""

from __future__ import annotations

from typing import Literal

from bot.sim import SimServer

CloudApi = Literal["v2", "v3"]
current: CloudApi = "v2"

# The cloud's code for the same fault in each dialect.
CODES: dict[str, dict[CloudApi, str]] = {
    "bad_signature": {"v2": "4100", "v3": "AuthFailure.SignatureFailure"},
    "unknown_secret_id": {"v2": "4104", "v3": "AuthFailure.SecretIdNotFound"},
    "stale_timestamp": {"v2": "4500", "v3": "AuthFailure.SignatureExpire"},
    "over_quota": {"v2": "4400", "v3": "RequestLimitExceeded"},
    "edit_action": {"v2": "ModifyVpnConnEx", "v3": "ModifyVpnConnectionAttribute"},
}


def code(fault: str) -> str:
    return CODES[fault][current]


def endpoint(sim: SimServer) -> str:
    """The simulator's endpoint for the dialect in use."""
    return sim.v3_url if current == "v3" else sim.url
