"""Every prompt of the package, rendered with fixed fields, against ``golden_old_renderings.json``: the
renderings of the three former template systems (factors' ``=== system ===``/``$x``, the judges'
``[system]``/``{x}``, the probe's), captured before they were replaced by :mod:`profile_align.prompts`.

A prompt whose version did not change must render to the same bytes (so cached answers still hit);
a prompt whose text changed must have a higher version. ``CHANGED`` lists the prompts this conversion
changed (issue 19)."""

import json
from pathlib import Path

import pytest

from profile_align.backends import Client
from profile_align.data.model import Example, Output
from profile_align.experiments.guide_stats import guidance_sentences
from profile_align.factors.prompts import load_prompt as factor_prompt
from profile_align.judges import EvaluationJudge, render_context, task_wording
from profile_align.prompts import load_prompt, prompt_names

GOLDEN = json.loads((Path(__file__).parent / "golden_old_renderings.json").read_text(encoding="utf-8"))
PACKAGES = {"backends": "profile_align.backends", "factors": "profile_align.factors", "judges": "profile_align.judges",
            "experiments": "profile_align.experiments", "diagnostics": "profile_align.diagnostics"}
# issue 19: the generation setting's prompts lost the rubric and the word cap (and use the paper's wording);
# the feedback-improvement prompts lost the word cap.
CHANGED = {"judges": {"generation_one_call", "generation_per_level", "generation_direct"},
           "experiments": {"improve_both", "improve_draft", "improve_feedback", "improve_one"}}
# Prompts added since the conversion (no old rendering): each has its own rendering test.
# evaluation_references: document QA with each answer's own references (issue 19; tests/judges/test_per_answer_references.py).
ADDED = {"judges": {"evaluation_references"}}


def val(f):
    return f"<{f}: 5 $dollars, ${{x}} and {{braces}} {{0}} %s \\n>"


def _cases():
    return [(group, name) for group, pkg in PACKAGES.items() for name in prompt_names(pkg)
            if name not in ADDED.get(group, set())]


def test_added_prompts_exist_and_are_not_in_the_golden_file():
    for group, names in ADDED.items():
        assert names <= set(prompt_names(PACKAGES[group])) and not names & set(GOLDEN[group])


def test_every_prompt_of_the_package_is_in_the_golden_file():
    assert {(g, n) for g in PACKAGES for n in GOLDEN[g]} == set(_cases())


@pytest.mark.parametrize("group,name", _cases())
def test_unchanged_prompts_render_identically_and_changed_ones_are_bumped(group, name):
    old = GOLDEN[group][name]
    p = load_prompt(name, package=PACKAGES[group])
    if p.version != old["version"]:  # the text changed (here or in a later issue): the version went up
        assert int(p.version) > int(old["version"])
        return
    assert name not in CHANGED.get(group, set()), f"{name}: its text changed, its version must be bumped"
    if "fields" in old:  # the judges' former {x} placeholders
        assert sorted(p.fields()) == old["fields"]
    fields = {f: val(f) for f in p.fields()}
    if group == "factors":
        req = factor_prompt(name).request(**fields)
    elif group == "diagnostics":
        from profile_align.diagnostics.probe import load_probe_prompt

        req = load_probe_prompt(name).request(**fields, json_schema={"type": "object"}, max_tokens=10)
    elif group == "backends":
        from profile_align.backends.check import check_request

        req = check_request()
    else:
        req = p.request(**fields)
    assert req.messages == old["messages"]
    assert req.prompt_version == f"{name}@{old['version']}"  # the one tag format everywhere
    if "temperature" in old:  # factor and probe prompts decode greedily, as before
        assert (req.temperature, req.top_p) == (old["temperature"], old["top_p"])


def test_task_wording_and_guidance_unchanged_except_the_generation_instruction():
    renamed = {"novel_words_ratio": "n_novel_words"}  # a factor renamed since (issue 19), same sentence
    # issue 19: the paper's GuideMis factors' sentences now correct the over-weighting (guidance@2)
    changed = {"coherence", "off_focus"}
    now = guidance_sentences()
    assert {k: v for k, v in now.items() if k not in changed} == \
        {renamed.get(k, k): v for k, v in GOLDEN["guidance"].items() if k not in changed}
    assert all(now[k] != GOLDEN["guidance"][k] for k in changed)
    for task, old in GOLDEN["task_wording"].items():
        new = task_wording(task)
        assert {k: v for k, v in new.items() if k != "instruction"} == {k: v for k, v in old.items() if k != "instruction"}
        assert (new["instruction"] != old["instruction"]) == (task != "generic")


def test_evaluation_requests_are_byte_identical():
    ex = Example("e1", task="document_qa", input="The input text, with $5 and {braces}.\n", title="A title",
                 sources=("first passage ", " second passage"))
    a, b = Output("o1", "e1", " answer one $x {y} "), Output("o2", "e1", "answer two")
    client = Client("fake:json", cache=None, progress=False)
    for key, old in GOLDEN["evaluation_requests"].items():
        task, g = key.split("|")
        r = EvaluationJudge(client, label="m", task=task, guidance=None if g == "None" else g).request(ex, a, b)
        assert r.messages == old["messages"], key
        assert (r.json_schema, r.max_tokens, r.temperature, r.top_p, r.seed) == \
            (old["json_schema"], old["max_tokens"], old["temperature"], old["top_p"], old["seed"])
        assert r.prompt_version == "evaluation@1"
    for task, old in GOLDEN["render_context"].items():
        assert render_context(ex, task) == old
