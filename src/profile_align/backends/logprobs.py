"""Yes/no scoring from next-token probabilities (UniEval-style Boolean QA)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, cast

__all__ = ["yes_probability", "yes_probability_from_response"]

_STRIP = " \t\r\n\"'`.,:;!?*_()[]{}<>\u2581\u0120"  # incl. SentencePiece/BPE space markers


def _normalise(token: str) -> str:
    return token.strip(_STRIP).lower()


def _pairs(top: Mapping[str, float] | Iterable[Any]) -> Iterable[tuple[str, float]]:
    if isinstance(top, Mapping):
        yield from top.items()
        return
    for item in cast(Iterable[Any], top):  # [{"token": ..., "logprob": ...}] or [(token, logprob)]
        if isinstance(item, Mapping):
            yield str(item.get("token", "")), float(item.get("logprob", -math.inf))
        else:
            tok, lp = item
            yield str(tok), float(lp)


def yes_probability(top_logprobs_first_token: Mapping[str, float] | Iterable[Any] | None) -> float | None:
    """P(yes) / (P(yes) + P(no)) from the first generated token's top logprobs.

    Variants are pooled: "Yes", " yes", "YES", "yes." all count as yes (probabilities summed). Returns
    None when neither yes nor no appears among the alternatives (no evidence: not a 0.5 guess).
    """
    if top_logprobs_first_token is None:
        return None
    p_yes = p_no = 0.0
    seen = False
    for token, logprob in _pairs(top_logprobs_first_token):
        word = _normalise(token)
        if word == "yes":
            p_yes += math.exp(logprob)
            seen = True
        elif word == "no":
            p_no += math.exp(logprob)
            seen = True
    if not seen or p_yes + p_no <= 0.0:
        return None
    return p_yes / (p_yes + p_no)


def yes_probability_from_response(response: Any) -> float | None:
    """:func:`yes_probability` on a :class:`~profile_align.backends.base.Response`'s first token."""
    top = getattr(response, "top_logprobs", None)
    if not top:
        return None
    return yes_probability(top[0])
