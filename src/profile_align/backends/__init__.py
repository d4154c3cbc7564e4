"""LLM backend layer: one async request/response protocol over local and remote models, with a SQLite
cache (resume), bounded concurrency, retries, structured output, logprob scoring and accounting.

Typical use::

    from profile_align.backends import Request, make_client
    client = make_client("local", run_dir="run", concurrency=1)  # the one client factory
    responses = client.run_all([Request.from_prompt("...", json_schema=schema, prompt_type="atomic_facts")])
"""

from .accounting import Accounting, Prices
from .base import (
    Backend,
    BackendError,
    Capabilities,
    RateLimitError,
    Request,
    RequestFailed,
    Response,
    TransientError,
    Usage,
)
from .cache import Cache, cache_dir, cache_key, default_cache_path
from .check import check_backend
from .client import Client
from .factory import cache_mode_of, make_client, resolve_cache_path
from .logprobs import yes_probability, yes_probability_from_response
from .records import CallLog, CallRecord, Records, Tally, new_invocation_id
from .parsing import ParseError, extract_json, parse_model, schema_errors
from .registry import get_backend, register, registered_prefixes, split_model_string

__all__ = [
    "Accounting",
    "Backend",
    "BackendError",
    "Cache",
    "CallLog",
    "CallRecord",
    "Records",
    "Tally",
    "new_invocation_id",
    "Capabilities",
    "Client",
    "ParseError",
    "Prices",
    "RateLimitError",
    "Request",
    "RequestFailed",
    "Response",
    "TransientError",
    "Usage",
    "cache_dir",
    "cache_key",
    "cache_mode_of",
    "check_backend",
    "default_cache_path",
    "extract_json",
    "get_backend",
    "make_client",
    "parse_model",
    "register",
    "registered_prefixes",
    "resolve_cache_path",
    "schema_errors",
    "split_model_string",
    "yes_probability",
    "yes_probability_from_response",
]
