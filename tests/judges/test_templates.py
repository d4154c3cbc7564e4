import pytest

from profile_align.data.model import Example
from profile_align.judges import length_limit, render_context, task_wording
from profile_align.prompts import load_prompt, prompt_names

NAMES = ["evaluation", "evaluation_references", "generation_one_call", "generation_per_level", "generation_direct"]


def test_judge_prompts_are_the_expected_files():
    assert prompt_names("profile_align.judges") == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_templates_load_with_version_and_no_placeholders(name):
    t = load_prompt(name, package="profile_align.judges")
    assert t.version.isdigit() and t.tag == f"{name}@{t.version}"
    assert "..." not in t.system + t.user  # small models copy placeholders
    assert t.user.lstrip().startswith("$context")  # fixed text first: prompt-prefix reuse


@pytest.mark.parametrize("task", ["summarization", "helpful_response", "document_qa", "something_else"])
def test_task_wording(task):
    w = task_wording(task)
    assert set(w) == {"noun", "nouns", "Noun", "source_label", "instruction", "criterion"}
    assert w["Noun"] == w["noun"].capitalize()


def test_length_limit_is_empty_unless_set():
    assert length_limit("summary", None) == "" and length_limit("summary", None, "each") == ""
    assert length_limit("summary", 80) == " Keep it under 80 words."
    assert length_limit("answer", 30, "each") == " Keep each answer under 30 words."


def test_document_qa_context_has_references():
    ex = Example("q1", "document_qa", "Why is the sky blue?", sources=("Rayleigh scattering ...", "Second quote"))
    ctx = render_context(ex, "document_qa")
    assert ctx.startswith("Question:\nWhy is the sky blue?") and "[2] Second quote" in ctx
