"""vpnbot's benchmarks: ``python -m bench`` (everything, writes ``bench/RESULTS.md``) or ``python -m bench --smoke``.

Five benchmarks, each reported as a ratio against a baseline measured in the same run:

1. ``ack``: acknowledgement latency of signed ``/vpn`` commands and Approve clicks at 20 concurrent clients,
   against a bare Bolt ``AsyncApp`` on the same server stack whose listeners only ``ack()``.
2. ``trigger``: time from a ``/vpn edit`` command to the ``views.open`` call while the cloud holds
   ``DescribeVpnConn`` for 2.5 s and for 10 s (a ``trigger_id`` lives 3 s), against a bare Bolt app whose ``/vpn``
   listener acks, then calls ``views.open`` at once.
3. ``many``: 1,000 change requests approved together, each edit taking 30 s to land, under API 3.0 with the
   simulator enforcing Tencent's rate limits: all reach their final reply; peak memory, threads, event-loop lag
   (against the bare Bolt app's under the same requests), and ack latency under that load against idle; the peak rate of each action, the rate-limit errors anyone saw, and
   the time from each edit's landing to its final reply, against a run without limits; again with
   ``DescribeVpcTaskResult`` knowing each edit's RequestId.
4. ``economy``: Slack Web API calls and thread messages per change, cloud calls per followed task.
5. ``signing``: signatures per second, ours against ``qcloudapi-sdk-python`` and ``tencentcloud-sdk-python-common``.

How the processes are laid out (and why): the server under test (vpnbot, or the baseline app) runs alone in a child
process (``python -m bench.serve``), and the load generator that times its answers runs in another
(``python -m bench.load``); the Slack stand-in, the simulator and the orchestration stay in this process, on one
event loop. On a two-core machine this keeps the harness's own work (the stand-in validating Block Kit, the simulator
checking signatures, the client's HTTP stack) off the measured server's interpreter lock, and it makes the bot's
thread count, peak memory and event-loop lag its own, sampled inside its process.

Everything goes over real HTTP on loopback, as the end-to-end tests do, and reuses their infrastructure
(``bot/playground/slack_api.py``, ``tests/botharness.py``).
"""

from bench.paths import use_test_helpers

use_test_helpers()  # every bench module may import the test helpers (botharness, ...) like any library
