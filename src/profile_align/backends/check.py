"""``check_backend``: answer one structured request and report model, latency, tokens and the answer."""

from __future__ import annotations

import time
from typing import Any

from .base import Request, RequestFailed
from .factory import make_client
from .parsing import schema_errors

__all__ = ["CHECK_SCHEMA", "check_request", "check_backend"]

CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "supported": {"type": "boolean"},
        "reason": {"type": "string", "maxLength": 200},
    },
    "required": ["supported", "reason"],
    "additionalProperties": False,
}


def check_request() -> Request:
    """The fixed request of ``backends/prompts/backend_check.txt`` (greedy decoding)."""
    from ..prompts import load_prompt  # the prompts module imports backends.base: import it lazily

    return load_prompt("backend_check", package=__package__).request(
        temperature=0.0, max_tokens=160, json_schema=CHECK_SCHEMA, prompt_type="backend_check")


def check_backend(model_string: str, *, cache_mode: str = "off", timeout_s: float = 600.0,
                  **backend_options: Any) -> dict[str, Any]:
    """One structured request through ``model_string``; never raises for a failed request (see ``ok``)."""
    client = make_client(model_string, cache_mode=cache_mode, max_retries=1, timeout_s=timeout_s, progress=False,
                    backend_options=backend_options)
    t0 = time.perf_counter()
    result: dict[str, Any] = {"model_string": model_string, "backend": client.backend.name,
                              "model": client.backend.model_id}
    try:
        resp = client.complete_sync(check_request())
    except RequestFailed as exc:
        result.update(ok=False, error=f"{exc.error_type}: {exc.message}", wall_s=time.perf_counter() - t0)
        return result
    finally:
        client.close()
    errors = schema_errors(resp.parsed, CHECK_SCHEMA) if resp.parsed is not None else ["no JSON in reply"]
    result.update(
        ok=not errors,
        latency_s=round(resp.latency_s, 3),
        wall_s=round(time.perf_counter() - t0, 3),
        prompt_tokens=resp.usage.prompt_tokens,
        completion_tokens=resp.usage.completion_tokens,
        tokens_per_s=round(resp.usage.completion_tokens / resp.latency_s, 1) if resp.latency_s > 0 else None,
        finish_reason=resp.finish_reason,
        answer=resp.parsed,
        raw_text=resp.text,
        schema_errors=errors,
    )
    load_s = getattr(client.backend, "load_s", None)
    if load_s is not None:
        result["load_s"] = round(load_s, 3)
    return result
