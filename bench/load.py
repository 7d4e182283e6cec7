"""The load generator, alone in its process: ``python -m bench.load`` (started by the benchmarks).

It signs each request as Slack does just before sending it and times it from the send to the complete HTTP answer.
The client is aiohttp's, over keep-alive connections: httpx's ``AsyncClient`` was measured here at about 5 ms of CPU a
request with 20 requests in flight (400 requests: 2.2 s of client CPU against aiohttp's 0.15 s, p99 740-910 ms
against 60-85 ms on the same bare Bolt server), so it timed its own queue rather than the server.
Operations (one JSON line each, see ``bench.proto``):

- ``fire``: send ``requests`` (``[kind, body]`` pairs) to ``url`` with ``concurrency`` workers, each sending its next
  request as soon as its previous one is answered (a closed loop, like that many busy Slack clients); answers
  ``samples``: ``[kind, sent (unix time), seconds, HTTP status]`` in request order.
- ``trickle_start`` / ``trickle_stop``: send ``body`` every ``interval`` seconds (on schedule, whatever the answers
  do) until stopped; ``trickle_stop`` answers the samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import aiohttp

from bench.proto import JSON, read_message, reply, stdin_lines
from bot.playground.slack_payloads import sign

Sample = tuple[str, float, float, int]


async def send(client: aiohttp.ClientSession, url: str, secret: str, kind: str, body: bytes) -> Sample:
    headers = sign(body, secret)
    sent = time.time()
    started = time.perf_counter()
    try:
        async with client.post(url, data=body, headers=headers) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError):
        status = -1
    return kind, sent, time.perf_counter() - started, status


async def fire(
    client: aiohttp.ClientSession, url: str, secret: str, requests: list[list[str]], concurrency: int
) -> list[Sample]:
    samples: list[Sample | None] = [None] * len(requests)
    pending: Iterator[tuple[int, list[str]]] = iter(enumerate(requests))

    async def worker() -> None:
        for index, (kind, body) in pending:
            samples[index] = await send(client, url, secret, kind, body.encode())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [s for s in samples if s is not None]


class Trickle:
    def __init__(
        self, client: aiohttp.ClientSession, url: str, secret: str, kind: str, body: str, interval: float
    ) -> None:
        self.client, self.url, self.secret = client, url, secret
        self.kind, self.body, self.interval = kind, body.encode(), interval
        self.samples: list[Sample] = []
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        while not self._stop.is_set():
            task = asyncio.create_task(self._one())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            sent += 1
            delay = start + sent * self.interval - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        if self._inflight:
            await asyncio.gather(*self._inflight)

    async def _one(self) -> None:
        self.samples.append(await send(self.client, self.url, self.secret, self.kind, self.body))

    def stop(self) -> None:
        self._stop.set()


async def main() -> None:
    reader = await stdin_lines()
    config = await read_message(reader)
    if config is None:
        return
    connector = aiohttp.TCPConnector(limit=int(config.get("connections", 64)))
    trickles: dict[str, tuple[Trickle, asyncio.Task[None]]] = {}
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        reply({"ready": True})
        while True:
            message: JSON | None = await read_message(reader)
            if message is None or message.get("op") == "stop":
                break
            op = message.get("op")
            if op == "fire":
                samples = await fire(
                    client, message["url"], message["secret"], message["requests"], int(message["concurrency"])
                )
                reply({"samples": samples})
            elif op == "trickle_start":
                trickle = Trickle(
                    client, message["url"], message["secret"], message["kind"], message["body"], message["interval"]
                )
                trickles[message["name"]] = (trickle, asyncio.create_task(trickle.run()))
                reply({"started": message["name"]})
            elif op == "trickle_stop":
                trickle, task = trickles.pop(message["name"])
                trickle.stop()
                await task
                reply({"samples": trickle.samples})
            else:
                reply({"error": f"unknown op {op!r}"})
    reply({"stopped": True})


if __name__ == "__main__":
    asyncio.run(main())
