"""In-process GGUF models through ``llama-cpp-python`` (the ``local`` extra).

* ``llama_cpp`` is imported lazily, the model is loaded on the first request.
* one ``Llama`` object is not thread-safe: calls run in a worker thread under a lock
  (``max_concurrency = 1``; the client queues the rest).
* JSON constraint: ``response_format={"type": "json_object", "schema": ...}`` (grammar-constrained).
* logprobs: the first generated token's top alternatives, read from the logits after the prompt
  (enough for yes/no scoring; ``logits_all`` stays off, which would cost memory and speed).
* prompt logprobs (``continuation_logprobs``, see :mod:`.scoring`): the chat prompt with its generation
  prompt is evaluated once, then the reply's tokens one at a time, summing the log-softmax of each.
* llama.cpp reuses the KV cache for a shared prompt prefix: put fixed text first, the varying part last.
* ``hf://ORG/REPO::FILENAME_GLOB`` downloads from the Hugging Face hub (needs ``huggingface-hub`` and network).
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, cast

from .base import BackendError, Capabilities, Request, Response, Usage

__all__ = ["LlamaCppBackend", "import_llama_cpp", "reply_token_logprobs", "render_chat_prompt"]


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendError(
            "the local backend needs llama-cpp-python: "
            'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install "profile-align[local]" '
            f"(builds from source, ~10-15 min on 2 cores) [{exc}]"
        ) from None
    return llama_cpp


class LlamaCppBackend:
    name = "llamacpp"

    def __init__(
        self,
        model_path: str | Path,
        *,
        model_id: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
        verbose: bool = False,
        **llama_kwargs: Any,
    ):
        self.model_path = str(model_path)
        self._hub = self.model_path.startswith("hf://")
        if not self._hub and not Path(self.model_path).is_file():
            raise BackendError(f"GGUF model file not found: {self.model_path}")
        self.model_id = model_id or (self.model_path.split("::")[-1] if self._hub else Path(self.model_path).stem)
        threads = n_threads or os.cpu_count() or 1
        self.n_ctx = n_ctx  # the context window (the factor engine sizes its inputs by it)
        self._llama_kwargs = dict(n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                  n_gpu_layers=n_gpu_layers, chat_format=chat_format, verbose=verbose,
                                  logits_all=False, **llama_kwargs)
        self.capabilities = Capabilities(json_schema=True, logprobs=True, max_concurrency=1, prompt_logprobs=True)
        self._lock = threading.Lock()
        self._llm: Any = None
        self.load_s: float | None = None

    @property
    def cache_id(self) -> str:
        if self._hub:
            return self.model_path
        size = Path(self.model_path).stat().st_size
        return f"{self.model_id}|{Path(self.model_path).name}|{size}"

    # ------------------------------------------------------------------ model
    def _load(self) -> Any:
        if self._llm is None:
            llama_cpp = import_llama_cpp()
            t0 = time.perf_counter()
            try:
                if self._hub:
                    repo, _, pattern = self.model_path[len("hf://"):].partition("::")
                    self._llm = llama_cpp.Llama.from_pretrained(repo, pattern or "*Q4_K_M.gguf", **self._llama_kwargs)
                else:
                    self._llm = llama_cpp.Llama(model_path=self.model_path, **self._llama_kwargs)
            except (ValueError, RuntimeError, OSError) as exc:
                raise BackendError(f"could not load {self.model_path}: {exc}") from exc
            self.load_s = time.perf_counter() - t0
        return self._llm

    def load(self) -> None:
        """Load the model now (otherwise it loads on the first request)."""
        with self._lock:
            self._load()

    def _first_token_capture(self, llm: Any, k: int) -> tuple[list[Any], Any]:
        import numpy as np

        llama_cpp = import_llama_cpp()
        captured: list[Any] = []
        n_vocab = llm.n_vocab()

        def processor(input_ids: Any, logits: Any) -> Any:
            if not captured:
                ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
                captured.append(np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64, copy=True))
            return logits

        return captured, processor

    def _top_logprobs(self, llm: Any, logits: Any, k: int) -> dict[str, float]:
        import numpy as np

        m = logits.max()
        logz = m + math.log(float(np.exp(logits - m).sum()))
        idx = np.argpartition(-logits, k)[:k]
        out: dict[str, float] = {}
        for i in idx[np.argsort(-logits[idx])]:
            tok = llm.detokenize([int(i)]).decode("utf-8", errors="replace")
            out.setdefault(tok, float(logits[i] - logz))
        return out

    def _complete_sync(self, request: Request) -> Response:
        with self._lock:
            llm = self._load()
            t0 = time.perf_counter()
            kwargs: dict[str, Any] = dict(
                messages=request.messages,
                temperature=request.temperature,
                top_p=request.top_p,
                max_tokens=request.max_tokens,
                stop=request.stop or [],
                seed=request.seed,
            )
            if request.json_schema is not None:
                kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
            captured: list[Any] = []
            if request.logprobs:
                captured, processor = self._first_token_capture(llm, request.top_logprobs or 5)
                import llama_cpp

                kwargs["logits_processor"] = llama_cpp.LogitsProcessorList([processor])
            try:
                out = llm.create_chat_completion(**kwargs)
            except ValueError as exc:  # e.g. prompt longer than the context window
                raise BackendError(f"llama.cpp: {exc}") from exc
            latency = time.perf_counter() - t0
            top = [self._top_logprobs(llm, captured[0], request.top_logprobs or 5)] if captured else None
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Response(
            text=choice["message"].get("content") or "",
            usage=Usage(prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
            latency_s=latency,
            backend=self.name,
            model=self.model_id,
            top_logprobs=top,
        )

    async def complete(self, request: Request) -> Response:
        return await asyncio.to_thread(self._complete_sync, request)

    async def aclose(self) -> None:
        return None

    # ------------------------------------------------------------------ prompt logprobs
    def _continuation_sync(self, messages: list[dict[str, str]], continuation: str) -> Any:
        from .scoring import ContinuationLogprob

        llama_cpp = import_llama_cpp()
        with self._lock:
            llm = self._load()
            prompt, add_bos = render_chat_prompt(llm, messages)
            ids_prompt = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
            ids_full = llm.tokenize((prompt + continuation).encode("utf-8"), add_bos=add_bos, special=True)
            if len(ids_full) > llm.n_ctx():
                raise BackendError(f"llama.cpp: prompt + reply ({len(ids_full)} tokens) exceed the context "
                                   f"window ({llm.n_ctx()})")
            n_vocab = llm.n_vocab()

            def last_logits() -> Any:
                import numpy as np

                ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
                return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64, copy=True)

            llm.reset()
            prefix, reply, values = reply_token_logprobs(llm.eval, last_logits, ids_prompt, ids_full)
            tokens = [llm.detokenize([t]).decode("utf-8", errors="replace") for t in reply]
            llm.reset()
        return ContinuationLogprob(token_logprobs=values, tokens=tokens, n_prompt_tokens=len(prefix), method="llamacpp")

    async def continuation_logprobs(self, messages: list[dict[str, str]], continuation: str) -> Any:
        """Log-probability of ``continuation`` as this model's reply to ``messages``."""
        return await asyncio.to_thread(self._continuation_sync, messages, continuation)

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                close = getattr(self._llm, "close", None)
                if close is not None:
                    close()
                self._llm = None


def render_chat_prompt(llm: Any, messages: list[dict[str, str]]) -> tuple[str, bool]:
    """(the text ``create_chat_completion`` would feed the model before its reply, whether to add BOS):
    the GGUF's own chat template (``tokenizer.chat_template``), else a named llama-cpp-python format."""
    from .scoring import LogprobsNotSupported

    from llama_cpp import llama_chat_format as lcf

    template = (getattr(llm, "metadata", None) or {}).get("tokenizer.chat_template")
    fmt = getattr(llm, "chat_format", None)
    if template and fmt in (None, "chat_template.default"):
        def tok_text(tid: int) -> str:
            return llm.detokenize([tid], special=True).decode("utf-8", errors="replace") if tid >= 0 else ""

        formatter = lcf.Jinja2ChatFormatter(template=template, eos_token=tok_text(llm.token_eos()),
                                            bos_token=tok_text(llm.token_bos()), add_generation_prompt=True)
        res = formatter(messages=cast(Any, messages))  # OpenAI-style role/content dicts: its TypedDicts' shape
        return res.prompt, not getattr(res, "added_special", False)
    fn = getattr(lcf, f"format_{str(fmt).replace('-', '_')}", None) if fmt else None
    if fn is None:
        raise LogprobsNotSupported(f"llama.cpp: cannot render chat format {fmt!r} to score a reply")
    res = fn(messages=messages)
    return res.prompt, not getattr(res, "added_special", False)


def reply_token_logprobs(evaluate: Any, last_logits: Any, ids_prompt: list[int],
                         ids_full: list[int]) -> tuple[list[int], list[int], list[float]]:
    """Score the tokens of ``ids_full`` after its common prefix with ``ids_prompt``: ``evaluate(tokens)``
    feeds tokens to the model, ``last_logits()`` returns the logits after the last token fed. Returns
    (prefix ids, reply ids, log-probability of each reply token). The reply starts where the two token
    lists first differ (a token merged across the boundary counts as the reply's)."""
    from .scoring import log_softmax_at

    n = 0
    while n < min(len(ids_prompt), len(ids_full)) and ids_prompt[n] == ids_full[n]:
        n += 1
    prefix, reply = list(ids_full[:n]), list(ids_full[n:])
    if not prefix:
        raise BackendError("llama.cpp: empty prompt; nothing to condition the reply on")
    if not reply:
        raise BackendError("llama.cpp: the reply has no tokens")
    evaluate(prefix)
    values: list[float] = []
    for i, tok in enumerate(reply):
        values.append(log_softmax_at(last_logits(), int(tok)))
        if i + 1 < len(reply):
            evaluate([tok])
    return prefix, reply, values
