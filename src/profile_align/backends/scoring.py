"""Log-probability of a *given* reply: how probable is this text as the model's answer to these messages?

A backend that can do it sets ``capabilities.prompt_logprobs`` and has an optional method
``async continuation_logprobs(messages, continuation) -> ContinuationLogprob`` (the messages rendered with
the model's chat template and a generation prompt, then the log-softmax of every token of the reply):

* ``llamacpp``: in-process, the reply's tokens evaluated one by one after the prompt;
* OpenAI-compatible servers that return prompt logprobs (vLLM's ``prompt_logprobs`` on chat completions,
  or ``echo`` + ``logprobs`` on a completions endpoint);
* ``fake``: scripted log-probabilities for tests.

Other backends raise :class:`LogprobsNotSupported`. Requests go through the ordinary
:class:`~profile_align.backends.Client` (cache, retries, accounting) by wrapping the backend in
:class:`ContinuationScorer`: a scoring request is a chat request whose last message is the assistant's
reply to score (``max_tokens=0``); the answer's text is the JSON of a :class:`ContinuationLogprob`.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from pydantic import BaseModel, Field

from .base import Backend, BackendError, Capabilities, Request, Response, Usage

__all__ = ["ContinuationLogprob", "LogprobsNotSupported", "ContinuationScorer", "supports_continuation_logprobs",
           "scoring_request", "read_continuation_logprob", "log_softmax_at", "PROMPT_TYPE",
           "reply_from_prompt_logprobs", "reply_from_echo"]

PROMPT_TYPE = "continuation_logprob"


class LogprobsNotSupported(BackendError):
    """The backend (or its server) cannot return the log-probability of a given reply."""


class ContinuationLogprob(BaseModel):
    """Per-token log-probabilities (natural log) of a reply given its prompt."""

    token_logprobs: list[float]
    tokens: list[str] = Field(default_factory=list)
    n_prompt_tokens: int = 0
    method: str = ""
    """How they were obtained (``llamacpp``, ``vllm-prompt-logprobs``, ``completions-echo``, ``fake``)."""

    @property
    def n_tokens(self) -> int:
        return len(self.token_logprobs)

    @property
    def total(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def per_token(self) -> float:
        return self.total / self.n_tokens if self.n_tokens else float("nan")


def supports_continuation_logprobs(backend: Any) -> bool:
    backend = getattr(backend, "backend", backend)  # a Client
    caps = getattr(backend, "capabilities", None)
    return bool(getattr(caps, "prompt_logprobs", False)) and callable(getattr(backend, "continuation_logprobs", None))


def log_softmax_at(logits: Any, index: int) -> float:
    """``log_softmax(logits)[index]`` computed stably (numpy array or sequence of floats)."""
    import numpy as np

    x = np.asarray(logits, dtype=np.float64)
    m = float(x.max())
    return float(x[index] - m - math.log(float(np.exp(x - m).sum())))


def scoring_request(messages: list[dict[str, str]], continuation: str, *, prompt_version: str = "1",
                    prompt_type: str = PROMPT_TYPE) -> Request:
    """The request that asks for the log-probability of ``continuation`` as the reply to ``messages``."""
    if not continuation:
        raise ValueError("cannot score an empty reply")
    return Request(messages=[*messages, {"role": "assistant", "content": continuation}], max_tokens=0,
                   temperature=0.0, top_p=1.0, prompt_type=prompt_type, prompt_version=prompt_version)


def read_continuation_logprob(response: Response) -> ContinuationLogprob:
    """The :class:`ContinuationLogprob` of a scoring response (also when it came from the cache)."""
    source = response.parsed if isinstance(response.parsed, dict) else json.loads(response.text)
    return ContinuationLogprob.model_validate(source)


class ContinuationScorer:
    """A :class:`Backend` whose ``complete`` answers scoring requests (see :func:`scoring_request`) with
    the wrapped backend's ``continuation_logprobs``. Same name and model id as the wrapped backend (its
    usage is accounted under them, prompt type ``continuation_logprob``); its own ``cache_id`` so a
    scoring answer never mixes with a completion of the same messages."""

    def __init__(self, backend: Backend):
        if not supports_continuation_logprobs(backend):
            raise LogprobsNotSupported(
                f"backend {getattr(backend, 'name', type(backend).__name__)!r} "
                f"({getattr(backend, 'model_id', '?')}) cannot return the log-probability of a given reply "
                "(prompt logprobs): use the local llama.cpp backend or an OpenAI-compatible server that returns "
                "prompt logprobs (vLLM)")
        self.inner = backend
        self.name = backend.name
        self.model_id = backend.model_id
        cap = backend.capabilities.max_concurrency
        self.capabilities = Capabilities(prompt_logprobs=True, max_concurrency=cap)

    @property
    def cache_id(self) -> str:
        return f"continuation-logprob|{self.inner.cache_id}"

    async def complete(self, request: Request) -> Response:
        msgs = request.messages
        if not msgs or msgs[-1].get("role") != "assistant":
            raise BackendError("a scoring request ends with the assistant's reply to score (see scoring_request)")
        t0 = time.perf_counter()
        res: ContinuationLogprob = await self.inner.continuation_logprobs(msgs[:-1], msgs[-1].get("content", ""))  # type: ignore[attr-defined]
        data = res.model_dump()
        return Response(text=json.dumps(data), parsed=data,
                        usage=Usage(prompt_tokens=res.n_prompt_tokens + res.n_tokens, completion_tokens=0),
                        finish_reason="scored", latency_s=time.perf_counter() - t0, backend=self.name,
                        model=self.model_id)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


# --------------------------------------------------------------------------- reading server replies
def reply_from_prompt_logprobs(entries: list[Any], continuation: str) -> tuple[list[str], list[float], int]:
    """vLLM ``prompt_logprobs`` (one entry per prompt token: None for the first, else ``{token_id:
    {"logprob", "rank", "decoded_token"}}`` holding the prompt token itself when asked with
    ``prompt_logprobs=0``): the shortest run of final tokens whose text contains the reply.
    Returns (tokens, logprobs, number of prompt tokens before them)."""
    want = continuation.strip()
    toks: list[str] = []
    vals: list[float] = []
    text = ""
    for i in range(len(entries) - 1, 0, -1):
        entry = entries[i]
        if not isinstance(entry, dict) or len(entry) != 1:
            raise LogprobsNotSupported("prompt_logprobs entries must hold exactly the prompt token "
                                       "(ask with prompt_logprobs=0)")
        (item,) = entry.values()
        tok = str(item.get("decoded_token", "")) if isinstance(item, dict) else ""
        lp = float(item["logprob"]) if isinstance(item, dict) else float(item)
        toks.insert(0, tok)
        vals.insert(0, lp)
        text = tok + text
        if want and want in text:
            return toks, vals, i
    raise LogprobsNotSupported("the server's prompt tokens do not end with the reply (does it honour "
                               "continue_final_message?)")


def reply_from_echo(logprobs: dict[str, Any], start: int, end: int) -> tuple[list[str], list[float], int]:
    """An ``echo=True`` completions reply's ``logprobs`` (``tokens``, ``token_logprobs``, ``text_offset``):
    the tokens whose text starts in ``[start, end)`` of the prompt string."""
    try:
        tokens, values, offsets = logprobs["tokens"], logprobs["token_logprobs"], logprobs["text_offset"]
    except (KeyError, TypeError):
        raise LogprobsNotSupported("the completions reply has no echoed tokens, token_logprobs and text_offset") from None
    toks, vals = [], []
    n_before = 0
    for tok, lp, off in zip(tokens, values, offsets):
        if off < start:
            n_before += 1
        elif off < end:
            if lp is None:
                raise LogprobsNotSupported("the server echoed a reply token without its logprob")
            toks.append(str(tok))
            vals.append(float(lp))
    if not toks:
        raise LogprobsNotSupported("no echoed token falls inside the reply")
    return toks, vals, n_before
