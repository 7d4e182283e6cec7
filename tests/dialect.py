"""Which Tencent Cloud API dialect the end-to-end tests speak: API 2.0 (the seed's) and API 3.0 in both of its
possible behaviours, one run each (the ``cloud_api`` fixture in conftest.py sets it): ``v3``, the documented one, in
which ``ModifyVpnConnectionAttribute`` leaves no task (the edit is settled from the connection), and ``v3-task``, in
which ``DescribeVpcTaskResult`` knows the edit's RequestId.

What differs between them is said here once: the endpoint, the world's task behaviour, and the words the cloud uses
for the same faults.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest

from bot.sim import SimServer, World

CloudApi = Literal["v2", "v3"]
Behaviour = Literal["v2", "v3", "v3-task"]
BEHAVIOURS: tuple[Behaviour, ...] = ("v2", "v3", "v3-task")
current: CloudApi = "v2"
modify_task = False  # API 3.0: does DescribeVpcTaskResult know the edit's RequestId (the world's ``modifyTask``)?

# Fewer runs where more would prove nothing more (decorate the test; the ``cloud_api`` fixture is still used):
#
# * ``no_edit``: a case that never sends an edit runs under API 2.0 and API 3.0 but not again as ``v3-task``, since
#   the two API 3.0 behaviours differ only in whether an edit leaves a task;
# * ``local_only``: a case whose subject is settled by vpnbot itself before any cloud call (a request refused or
#   answered locally, a crash recovered from before the cloud is asked anything) runs once, under the bot's default
#   dialect (API 2.0): what follows it, if anything, is an ordinary change, run in every dialect elsewhere.
no_edit = pytest.mark.parametrize("cloud_api", ["v2", "v3"], indirect=True)
local_only = pytest.mark.parametrize("cloud_api", ["v2"], indirect=True)


def use(behaviour: Behaviour) -> None:
    global current, modify_task
    current = "v2" if behaviour == "v2" else "v3"
    modify_task = behaviour == "v3-task"


def behaviour() -> Behaviour:
    return "v2" if current == "v2" else ("v3-task" if modify_task else "v3")


def world(base: World, **updates: Any) -> World:
    """``base`` with ``updates`` (field names) and the task behaviour of the dialect in use."""
    world = base.model_copy(update=updates)
    if not modify_task:  # the world's default
        return world
    return World.model_validate({**world.to_json(), "modifyTask": True})


# The cloud's code for the same fault in each dialect.
CODES: dict[str, dict[CloudApi, str]] = {
    "bad_signature": {"v2": "4100", "v3": "AuthFailure.SignatureFailure"},
    "unknown_secret_id": {"v2": "4104", "v3": "AuthFailure.SecretIdNotFound"},
    "stale_timestamp": {"v2": "4500", "v3": "AuthFailure.SignatureExpire"},
    "over_quota": {"v2": "4400", "v3": "RequestLimitExceeded"},
    "name_taken": {"v2": "InvalidVpnConnName", "v3": "InvalidParameterValue.Duplicate"},
    "edit_action": {"v2": "ModifyVpnConnEx", "v3": "ModifyVpnConnectionAttribute"},
}


def code(fault: str) -> str:
    return CODES[fault][current]


def endpoint(sim: SimServer) -> str:
    """The simulator's endpoint for the dialect in use."""
    return sim.v3_url if current == "v3" else sim.url
