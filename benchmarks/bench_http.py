"""HTTP client throughput at API concurrency: the OpenAI-compatible backend through the full ``Client``.

    python benchmarks/bench_http.py                       # 2,000 requests at 16, 64 and 256 in flight
    python benchmarks/bench_http.py --n 5000 --conc 64 256 --transports aiohttp

A local asyncio OpenAI-compatible server (its own process, 127.0.0.1, HTTP/1.1 keep-alive) answers every
chat completion after 50-150 ms (uniform, fixed seed: the k-th request received waits ``LAT[k]``).
The ideal wall time is the makespan of those latencies over ``conc`` slots, each request taking the
first free slot. Ratio = ideal / measured wall time (1.0 = the client adds nothing); ``cpu/req`` is the
benchmark process's CPU time (client + transport + backend + accounting, cache off) per request. Every
transport runs in the same process against the same server, so the ratios are side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import multiprocessing as mp
import os
import random
import time

from profile_align.backends import Client, Request
from profile_align.backends.openai_compat import OpenAICompatBackend

SCHEMA = {"type": "object", "properties": {"supported": {"type": "boolean"}}, "required": ["supported"]}
_BODY = json.dumps({"id": "x", "object": "chat.completion", "model": "m", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": '{"supported": true}'}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}).encode()
_REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(_BODY)) + _BODY


def latencies(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(0.05, 0.15) for _ in range(n)]


def ideal_wall(n: int, conc: int) -> float:
    slots = [0.0] * conc
    for lat in latencies(n):
        heapq.heappush(slots, heapq.heappop(slots) + lat)
    return max(slots)


class _Server(asyncio.Protocol):
    """Minimal HTTP/1.1 keep-alive server: reads one request (Content-Length body), answers after LAT[k]."""

    received = 0
    lat = latencies(1)

    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        self.transport, self.buf = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            if head.startswith(b"post /reset"):
                type(self).received = 0
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                continue
            k = type(self).received
            type(self).received += 1
            asyncio.get_running_loop().call_later(self.lat[k % len(self.lat)], self._reply)

    def _reply(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(_REPLY)


def _serve(port_queue: mp.Queue, n: int) -> None:  # pragma: no cover - runs in the server process
    _Server.lat = latencies(n)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Server, "127.0.0.1", 0, backlog=4096)
        port_queue.put(server.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().create_future()

    asyncio.run(main())


async def _reset(url: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(url.split(":")[2].split("/")[0]))
    writer.write(b"POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


async def run_once(url: str, transport: str, n: int, conc: int, structured: bool) -> dict:
    await _reset(url)
    backend = OpenAICompatBackend("m", base_url=url, api_key="", transport=transport)
    client = Client(backend, cache_mode="off", concurrency=conc, progress=False, max_retries=0)
    reqs = [Request.from_prompt(f"item {i}", json_schema=SCHEMA if structured else None, prompt_type="bench")
            for i in range(n)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    out = await client.map(reqs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    failed = sum(1 for r in out if not hasattr(r, "text"))
    await client.aclose()
    ideal = ideal_wall(n, conc)
    return {"transport": transport, "conc": conc, "n": n, "wall_s": wall, "ideal_s": ideal, "ratio": ideal / wall,
            "cpu_ms_per_req": 1000 * cpu / n, "failed": failed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--conc", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--transports", nargs="+", default=["httpx", "aiohttp"])
    ap.add_argument("--repeats", type=int, default=1, help="runs per cell; the best ratio is printed")
    ap.add_argument("--plain", action="store_true", help="requests without a JSON schema")
    args = ap.parse_args()

    queue: mp.Queue = mp.Queue()
    server = mp.Process(target=_serve, args=(queue, args.n), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{queue.get(timeout=30)}/v1"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.n} requests, 50-150 ms latency, cache off, {os.cpu_count()} CPUs, load average {load:.2f}")
    print(f"{'in flight':>9} " + " ".join(f"{t:>28}" for t in args.transports))
    try:
        for conc in args.conc:
            cells = []
            for transport in args.transports:
                runs = [asyncio.run(run_once(url, transport, args.n, conc, not args.plain))
                        for _ in range(args.repeats)]
                best = max(runs, key=lambda r: r["ratio"])
                fail = f" {best['failed']} failed" if best["failed"] else ""
                cells.append(f"ratio {best['ratio']:.2f} ({best['wall_s']:5.2f}/{best['ideal_s']:.2f} s) "
                             f"{best['cpu_ms_per_req']:5.2f} ms/req{fail}")
            print(f"{conc:>9} " + " | ".join(cells), flush=True)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
