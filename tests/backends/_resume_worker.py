"""Run a batch against a cache file (used by test_resume.py, which kills it mid-batch)."""

from __future__ import annotations

import sys

from profile_align.backends import Client, Request, TransientError
from profile_align.backends.fake import FakeBackend, last_user


def main() -> None:
    cache_path, call_log, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

    def rule(request: Request):
        i = int(last_user(request).split()[-1])
        if mode == "with-failures" and i % 5 == 0:
            return TransientError("simulated 503")
        return f"answer {i}"

    fake = FakeBackend("echo", rule=rule, latency_s=0.03, call_log=call_log, model_id="resume-model")
    client = Client(fake, cache=cache_path, concurrency=4, max_retries=0, progress=False)
    out = client.run_all([Request.from_prompt(f"item {i}") for i in range(n)])
    print("DONE", sum(hasattr(r, "text") for r in out), flush=True)


if __name__ == "__main__":
    main()
