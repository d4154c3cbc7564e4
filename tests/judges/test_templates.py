import re

import pytest

from profile_align.data.model import Example
from profile_align.judges import load_template, render_context, rubric_lines, task_wording

NAMES = ["evaluation", "generation_one_call", "generation_per_level", "generation_direct"]


@pytest.mark.parametrize("name", NAMES)
def test_templates_load_with_version_and_no_placeholders(name):
    t = load_template(name)
    assert re.fullmatch(r"\d+(\.\d+)?", t.version)
    assert "..." not in t.system + t.user  # small models copy placeholders
    assert t.user.lstrip().startswith("{context}")  # fixed text first: prompt-prefix reuse


@pytest.mark.parametrize("task", ["summarization", "helpful_response", "document_qa", "something_else"])
def test_task_wording_and_rubric(task):
    w = task_wording(task)
    assert {"noun", "nouns", "Noun", "source_label", "instruction", "criterion"} <= set(w)
    version, lines = rubric_lines(task, 5)
    assert set(lines) == {1, 2, 3, 4, 5} and len(set(lines.values())) == 5 and version
    assert all(w["noun"] in line for line in lines.values())
    _, lines7 = rubric_lines(task, 7)
    assert set(lines7) == set(range(1, 8))


def test_document_qa_context_has_references():
    ex = Example("q1", "document_qa", "Why is the sky blue?", sources=("Rayleigh scattering ...", "Second quote"))
    ctx = render_context(ex, "document_qa")
    assert ctx.startswith("Question:\nWhy is the sky blue?") and "[2] Second quote" in ctx
