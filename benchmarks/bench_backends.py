"""Backend layer benchmarks.

    python benchmarks/bench_backends.py                 # fake backend throughput + cache-hit path
    python benchmarks/bench_backends.py --local         # + the default local model (tokens/s, JSON validity)
    python benchmarks/bench_backends.py --local --model smollm2

1. 10,000 requests through the fake backend (20 ms latency) at concurrency 64, through the full client
   (cache writes, retries machinery, accounting): achieved throughput / ideal (target >= 0.9).
2. 100,000 cached lookups through ``Client.map``: requests per second.
3. ``--local``: completion tokens/s and schema-valid JSON rate on factor-like prompts.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from pathlib import Path

from profile_align.backends import Client, Request, schema_errors
from profile_align.backends.fake import FakeBackend


async def bench_throughput(cache_path: Path | None, n: int = 10_000, latency: float = 0.02, conc: int = 64) -> dict:
    fake = FakeBackend("echo", latency_s=latency)
    client = Client(fake, cache=cache_path, cache_mode="use" if cache_path else "off", concurrency=conc,
                    progress=False)
    reqs = [Request.from_prompt(f"item {i}", prompt_type="bench") for i in range(n)]
    t0 = time.perf_counter()
    out = await client.map(reqs)
    wall = time.perf_counter() - t0
    ideal = math.ceil(n / conc) * latency
    assert fake.calls == n and all(r.text == f"item {i}" for i, r in enumerate(out))
    await client.aclose()
    return {"n": n, "wall_s": wall, "ideal_s": ideal, "ratio": ideal / wall, "req_per_s": n / wall,
            "max_in_flight": fake.max_in_flight}


async def bench_cache_hits(cache_path: Path, distinct: int = 10_000, total: int = 100_000) -> dict:
    fake = FakeBackend("echo", latency_s=0.02)
    client = Client(fake, cache=cache_path, concurrency=64, progress=False)
    reqs = [Request.from_prompt(f"item {i % distinct}", prompt_type="bench") for i in range(total)]
    t0 = time.perf_counter()
    out = await client.map(reqs)
    wall = time.perf_counter() - t0
    assert fake.calls == 0 and all(r.cached for r in out)
    await client.aclose()
    return {"lookups": total, "wall_s": wall, "req_per_s": total / wall}


# ------------------------------------------------------------------ local model
_STR = {"type": "string", "maxLength": 160}
FACTOR_PROMPTS = [
    ("atomic_facts", {"type": "object", "properties": {"facts": {"type": "array", "items": _STR, "maxItems": 6}},
                      "required": ["facts"]},
     "Split the text into short independent facts, each a full sentence in the third person.\n"
     "Text: The bridge, which opened in 1932, carries eight lanes of traffic and a railway line."),
    ("support", {"type": "object", "properties": {"supported": {"type": "boolean"}, "reason": _STR},
                 "required": ["supported", "reason"]},
     "Post: Our cafe is closed on Mondays and opens at 8 am on other days.\n"
     "Statement: The cafe is open on Monday mornings.\nIs the statement supported by the post?"),
    ("pairwise_eval", {"type": "object", "properties": {"better": {"enum": ["A", "B", "tie"]}, "reason": _STR},
                       "required": ["better", "reason"]},
     "Source: The council approved a new park with a playground and a pond, to open next spring.\n"
     "Summary A: The council approved a park with a playground and a pond, opening next spring.\n"
     "Summary B: Something was approved.\nWhich summary is better?"),
    ("fluency", {"type": "object", "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
                 "required": ["score"]},
     "Rate the fluency of this sentence from 1 (unreadable) to 5 (perfect): 'The cat sat quietly on the mat.'"),
    ("coverage", {"type": "object", "properties": {"covered": {"type": "boolean"}}, "required": ["covered"]},
     "Source fact: The museum was founded in 1901.\nSummary: A museum that dates from the early 1900s.\n"
     "Does the summary cover the fact?"),
]


def bench_local(model: str, repeats: int = 1) -> dict:
    client = Client(model, cache_mode="off", progress=False, timeout_s=600)
    load_t0 = time.perf_counter()
    load = getattr(client.backend, "load", None)
    if load is not None:
        load()
    load_s = time.perf_counter() - load_t0
    rows = []
    for rep in range(repeats):
        for prompt_type, schema, prompt in FACTOR_PROMPTS:
            req = Request.from_prompt(prompt, system="Reply with JSON only.", json_schema=schema, temperature=0.0,
                                      max_tokens=256, prompt_type=prompt_type, prompt_version=f"bench{rep}")
            r = client.complete_sync(req)
            valid = r.parsed is not None and not schema_errors(r.parsed, schema)
            rows.append({"type": prompt_type, "latency_s": r.latency_s, "prompt_tokens": r.usage.prompt_tokens,
                         "completion_tokens": r.usage.completion_tokens, "valid": valid, "text": r.text[:100]})
    client.close()
    gen = sum(r["completion_tokens"] for r in rows)
    total_latency = sum(r["latency_s"] for r in rows)
    return {"model": client.backend.model_id, "load_s": load_s, "rows": rows,
            "json_valid": f"{sum(r['valid'] for r in rows)}/{len(rows)}",
            "tokens_per_s": gen / total_latency if total_latency else float("nan"),
            "median_latency_s": statistics.median(r["latency_s"] for r in rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--local", action="store_true", help="also benchmark a local model")
    ap.add_argument("--model", default="local", help="model string for --local (default: local)")
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cache_path = Path(tmp) / "bench.sqlite3"
        nocache = asyncio.run(bench_throughput(None, n=args.n))
        print(f"fake backend, {args.n} requests, 20 ms latency, concurrency 64, cache off: "
              f"{nocache['wall_s']:.2f} s (ideal {nocache['ideal_s']:.2f} s) -> ratio {nocache['ratio']:.3f}, "
              f"{nocache['req_per_s']:.0f} req/s, max in flight {nocache['max_in_flight']}")
        cached = asyncio.run(bench_throughput(cache_path, n=args.n))
        print(f"fake backend, {args.n} requests, 20 ms latency, concurrency 64, SQLite cache on: "
              f"{cached['wall_s']:.2f} s (ideal {cached['ideal_s']:.2f} s) -> ratio {cached['ratio']:.3f}, "
              f"{cached['req_per_s']:.0f} req/s")
        hits = asyncio.run(bench_cache_hits(cache_path, distinct=args.n, total=10 * args.n))
        print(f"cache-hit path: {hits['lookups']:,} cached lookups in {hits['wall_s']:.2f} s -> "
              f"{hits['req_per_s']:,.0f} req/s")

    if args.local:
        res = bench_local(args.model)
        print(f"\nlocal model {res['model']}: load {res['load_s']:.1f} s, JSON valid {res['json_valid']}, "
              f"{res['tokens_per_s']:.1f} completion tok/s, median latency {res['median_latency_s']:.1f} s")
        for r in res["rows"]:
            print(f"  {r['type']:14s} {r['latency_s']:6.1f} s  in {r['prompt_tokens']:4d}  out "
                  f"{r['completion_tokens']:4d}  valid={r['valid']}  {r['text']!r}")


if __name__ == "__main__":
    main()
