"""The factor extractors' prompts: ``factors/prompts/*.txt`` in the package's one prompt format
(:mod:`profile_align.prompts`), bound to greedy decoding.

Templates are our own wording; they carry no example answers (small models copy them) and put fixed
text first, the varying text last (llama.cpp reuses the shared prompt prefix).
"""

from __future__ import annotations

from .. import prompts
from ..prompts import Prompt

__all__ = ["Prompt", "load_prompt", "prompt_names", "extraction_prompt", "EXTRACTION_TEMPERATURE", "EXTRACTION_SAMPLING"]

# Factor extraction is a measurement: decode greedily so the same text always gets the same value
# (the paper's temperature 0.6 is for model judges, not for extractors).
EXTRACTION_TEMPERATURE = 0.0
EXTRACTION_SAMPLING = {"temperature": EXTRACTION_TEMPERATURE, "top_p": 1.0}


def prompt_names() -> list[str]:
    return prompts.prompt_names(__package__)


def extraction_prompt(prompt: Prompt) -> Prompt:
    """``prompt`` with greedy decoding as request defaults (defaults the prompt already has win)."""
    return prompt.with_defaults(**{**EXTRACTION_SAMPLING, **dict(prompt.defaults)})


def load_prompt(name: str) -> Prompt:
    """``factors/prompts/<name>.txt`` with greedy decoding (temperature 0, top_p 1) as request defaults."""
    return extraction_prompt(prompts.load_prompt(name, package=__package__))
