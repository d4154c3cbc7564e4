"""Prompt logprobs (the log-probability of a given reply): the scorer adapter through the Client (cache,
accounting), the fake, the llama.cpp token loop, and OpenAI-compatible servers (vLLM chat, echo)."""

from __future__ import annotations

import json
import math

import httpx
import numpy as np
import pytest

from profile_align.backends import Client, RequestFailed
from profile_align.backends.fake import FakeBackend
from profile_align.backends.llamacpp import reply_token_logprobs
from profile_align.backends.openai_compat import OpenAICompatBackend
from profile_align.backends.scoring import (ContinuationScorer, LogprobsNotSupported, log_softmax_at,
                                            read_continuation_logprob, reply_from_echo, scoring_request,
                                            supports_continuation_logprobs)

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Summarise: cats sleep a lot."}]


def test_scorer_through_client_is_cached_and_accounted(tmp_path):
    fake = FakeBackend("echo", prompt_logprobs={"Cats sleep.": [-0.5, -1.25, -0.25]})
    client = Client(ContinuationScorer(fake), cache=tmp_path / "c.sqlite", progress=False)
    req = scoring_request(MSGS, "Cats sleep.")
    lp = read_continuation_logprob(client.complete_sync(req))
    assert lp.token_logprobs == [-0.5, -1.25, -0.25]
    assert lp.total == pytest.approx(-2.0) and lp.per_token == pytest.approx(-2.0 / 3) and lp.n_tokens == 3
    again = client.complete_sync(req)
    assert again.cached and read_continuation_logprob(again).total == pytest.approx(-2.0)
    assert fake.calls == 1  # the second answer came from the cache
    rows = client.accounting.to_dict()["rows"]
    (row,) = [r for r in rows if r["prompt_type"] == "continuation_logprob"]
    assert row["requests"] == 2 and row["cached"] == 1 and row["model"].endswith("fake-echo")
    # a completion of the same messages never shares the scoring answer's cache entry
    assert client.key(req) != Client(fake, cache=tmp_path / "c.sqlite", progress=False).key(req)
    client.close()


def test_unscripted_reply_is_a_failure_not_a_number(tmp_path):
    fake = FakeBackend("echo", prompt_logprobs={"known": [-1.0]})
    client = Client(ContinuationScorer(fake), cache=tmp_path / "c.sqlite", progress=False, max_retries=0)
    (res,) = client.run_all([scoring_request(MSGS, "unknown reply")])
    assert isinstance(res, RequestFailed)
    client.close()


def test_backend_without_prompt_logprobs_says_so():
    plain = FakeBackend("echo")
    assert not supports_continuation_logprobs(plain)
    with pytest.raises(LogprobsNotSupported, match="cannot return the log-probability of a given reply"):
        ContinuationScorer(plain)
    assert not OpenAICompatBackend("m", base_url="http://127.0.0.1:9/v1", prompt_logprobs="off").capabilities.prompt_logprobs


def test_llamacpp_token_loop_sums_log_softmax():
    # prompt tokens [1, 2], reply tokens [3, 4]; logits after each fed token are scripted
    logits = {2: np.array([0.0, 0.0, 0.0, math.log(3.0), 0.0]),  # after the prompt: P(3) = 3/7
              3: np.array([0.0, 0.0, 0.0, 0.0, math.log(6.0)])}  # after token 3: P(4) = 6/10
    fed: list[int] = []

    def evaluate(tokens):
        fed.extend(tokens)

    prefix, reply, values = reply_token_logprobs(evaluate, lambda: logits[fed[-1]], [1, 2], [1, 2, 3, 4])
    assert prefix == [1, 2] and reply == [3, 4]
    assert values == pytest.approx([math.log(3 / 7), math.log(6 / 10)])
    assert fed == [1, 2, 3]  # the last reply token is never fed (nothing to predict after it)
    assert log_softmax_at([1.0, 1.0], 0) == pytest.approx(math.log(0.5))


def _vllm_handler(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    assert body["prompt_logprobs"] == 0 and body["continue_final_message"] and not body["add_generation_prompt"]
    assert body["messages"][-1] == {"role": "assistant", "content": "Cats sleep."}
    toks = [("<s>", None), ("Summ", -3.0), ("arise", -0.1), (":", -0.2), ("\n", -0.3), ("Cats", -1.5),
            (" sleep", -0.75), (".", -0.25)]
    entries = [None] + [{str(i): {"logprob": lp, "rank": 1, "decoded_token": t}} for i, (t, lp) in enumerate(toks) if lp is not None]
    return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": "x"}}],
                                     "prompt_logprobs": entries})


def test_openai_compat_vllm_prompt_logprobs():
    be = OpenAICompatBackend("m", base_url="http://127.0.0.1:1/v1", transport=httpx.MockTransport(_vllm_handler))
    client = Client(ContinuationScorer(be), cache_mode="off", progress=False)
    lp = read_continuation_logprob(client.complete_sync(scoring_request(MSGS, "Cats sleep.")))
    assert lp.tokens == ["Cats", " sleep", "."] and lp.total == pytest.approx(-2.5)
    assert lp.method == "vllm-prompt-logprobs" and lp.n_prompt_tokens == 5


def test_openai_compat_falls_back_to_echo_then_reports_unsupported():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(400, json={"error": "unknown field prompt_logprobs"})
        body = json.loads(request.content)
        prompt = body["prompt"]
        assert body["echo"] is True and prompt.endswith("\n\nCats sleep.")
        start = prompt.index("Cats sleep.")
        toks = [("Be", 0), (" brief", 2), ("...", 8), ("Cats", start), (" sleep", start + 4), (".", start + 10),
                ("!", len(prompt))]  # the last one is the generated token
        return httpx.Response(200, json={"choices": [{"text": prompt + "!", "logprobs": {
            "tokens": [t for t, _ in toks], "token_logprobs": [None, -1.0, -2.0, -0.5, -0.5, -0.5, -9.0],
            "text_offset": [o for _, o in toks]}}]})

    be = OpenAICompatBackend("m", base_url="http://127.0.0.1:1/v1", transport=httpx.MockTransport(handler))
    client = Client(ContinuationScorer(be), cache_mode="off", progress=False, max_retries=0)
    lp = read_continuation_logprob(client.complete_sync(scoring_request(MSGS, "Cats sleep.")))
    assert lp.method == "completions-echo" and lp.total == pytest.approx(-1.5) and lp.n_prompt_tokens == 3
    assert be.prompt_logprobs_mode == "completions"  # remembered

    def nothing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "unsupported"})

    be2 = OpenAICompatBackend("m", base_url="http://127.0.0.1:1/v1", transport=httpx.MockTransport(nothing))
    client2 = Client(ContinuationScorer(be2), cache_mode="off", progress=False, max_retries=0)
    (res,) = client2.run_all([scoring_request(MSGS, "Cats sleep.")])
    assert isinstance(res, RequestFailed) and "cannot return the log-probability" in res.message


def test_echo_reader_needs_offsets():
    with pytest.raises(LogprobsNotSupported):
        reply_from_echo({"tokens": ["a"]}, 0, 1)
