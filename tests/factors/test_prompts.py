import re

import pytest

from profile_align.factors.prompts import EXTRACTION_TEMPERATURE, load_prompt, prompt_names
from profile_align.prompts import PromptError

EXPECTED = {"atomic_facts", "fact_support", "fact_coverage", "fact_focus", "fact_helpful", "fact_misinfo",
            "intent_alignment", "formality_alignment", "receptiveness", "unieval_fluency", "unieval_coherence"}


def test_every_prompt_loads_with_a_version():
    assert EXPECTED <= set(prompt_names())
    for name in prompt_names():
        p = load_prompt(name)
        assert p.version and p.tag == f"{name}@{p.version}"
        assert p.system and p.user


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_placeholders_or_example_answers(name):
    p = load_prompt(name)
    body = p.system + "\n" + p.user
    assert "..." not in body and "\u2026" not in body
    assert not re.search(r'"facts"\s*:\s*\[\s*"', body)  # no example fact lists
    assert not re.search(r'\{\s*"1"\s*:', body)            # no example verdict objects


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_varying_text_comes_last(name):
    p = load_prompt(name)
    last = max(p.fields(), key=lambda f: p.user.index("$" + f))
    # the output under judgement (or the statements about it) is at the end, after the fixed source
    assert last in ("text", "facts")


def test_render_checks_fields_and_keeps_dollars_and_braces():
    p = load_prompt("atomic_facts")
    assert "cost $5 {x}" in p.render(text="cost $5 {x}")[-1]["content"]
    with pytest.raises(PromptError, match="missing"):
        p.render()
    with pytest.raises(PromptError, match="unexpected"):
        p.render(text="a", source="b")
    req = p.request(text="hello", max_tokens=10)
    assert req.temperature == EXTRACTION_TEMPERATURE == 0.0 and req.top_p == 1.0
    assert p.request(text="hello", temperature=0.6).temperature == 0.6  # an explicit keyword wins
    assert req.prompt_version == p.tag and req.prompt_type == "atomic_facts"


def test_unknown_prompt_is_a_clear_error():
    with pytest.raises(PromptError, match="no prompt 'nope' in profile_align.factors"):
        load_prompt("nope")
