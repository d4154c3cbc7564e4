"""The generation setting's prompt is the paper's (Appendix D.1.1): the task description, then "write k
outputs that would each get a score of 1..k" -- no quality definitions of ours, no length limit, no
``maxLength`` in the schema unless the user sets ``max_words`` (a labelled deviation)."""

import json
import re
from pathlib import Path

import pytest

from profile_align.backends import Client
from profile_align.backends.fake import FakeBackend
from profile_align.data.model import Example
from profile_align.judges import GenerationJudge
from profile_align.pipeline.config import GenerationConfig

GOLDEN = Path(__file__).parent / "golden"
TASKS = ["summarization", "helpful_response", "document_qa", "generic"]
EXAMPLE = Example("e1", "summarization", "The council voted on Monday to close the old bridge.", title="Bridge")

# The former rubric (judges/prompts/rubric.txt, version 1), verbatim: the generation prompt used to tell the
# model what each score means, which measured our rubric instead of the model.
FORMER_RUBRIC = """\
1: a very poor {noun}: it misses the main point, states wrong or invented details, or is hard to follow.
2: a poor {noun}: it touches the topic but leaves out most of what matters or contains clear errors.
3: an acceptable {noun}: it gets the main point across but leaves out important details or reads awkwardly.
4: a good {noun}: it is correct and covers what matters, with small gaps or some wordiness.
5: an excellent {noun}: it is correct, covers everything that matters, and is concise and clearly written.
"""
FUNCTION_WORDS = {"with", "what", "that", "from", "most", "some", "noun"}
RUBRIC_WORDS = {w for w in re.findall(r"[a-z]+", FORMER_RUBRIC.lower()) if len(w) >= 4} - FUNCTION_WORDS
# The paper's helpful-response and document-QA task descriptions ask for a concise output; ours say "briefly",
# so no exception is needed.


def _judge(task="summarization", **kw):
    client = Client(FakeBackend("json", model_id="gen"), cache_mode="off", progress=False)
    return GenerationJudge(client, label="m", task=task, **kw)


def _words(req):
    # the prompt without the input text (which is data, not our wording)
    text = "\n".join(m["content"] for m in req.messages).replace(EXAMPLE.title + "\n" + EXAMPLE.input, "")
    return set(re.findall(r"[a-z]+", text.lower()))


def _render(req):
    return "".join(f"[{m['role']}]\n{m['content']}\n" for m in req.messages)


def test_default_generation_prompt_matches_the_golden_file():
    req = _judge().one_call_request(EXAMPLE)
    assert _render(req) == (GOLDEN / "generation_one_call_summarization.txt").read_text(encoding="utf-8")
    assert req.prompt_version == "generation_one_call@2"


def test_default_generation_prompt_is_the_papers_instruction_without_our_rubric():
    req = _judge().one_call_request(EXAMPLE)
    user = req.messages[-1]["content"]
    assert "Write 5 summaries for the text above that would each get a different score from 1 to 5" in user
    assert "Task: Summarize the article" in user
    assert not (_words(req) & RUBRIC_WORDS), sorted(_words(req) & RUBRIC_WORDS)
    assert "words" not in user.replace("Write 5", "")  # no word limit
    assert "maxLength" not in json.dumps(req.json_schema)
    assert req.max_tokens == 1024


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("which", ["one_call", "level", "direct"])
def test_no_rubric_no_cap_for_any_task_or_variant(task, which):
    j = _judge(task)
    req = {"one_call": lambda: j.one_call_request(EXAMPLE), "level": lambda: j.level_request(EXAMPLE, 2),
           "direct": lambda: j.direct_request(EXAMPLE)}[which]()
    assert not (_words(req) & RUBRIC_WORDS), sorted(_words(req) & RUBRIC_WORDS)
    assert "maxLength" not in json.dumps(req.json_schema) and "under" not in req.messages[-1]["content"]
    assert req.max_tokens == 1024
    if which == "level":
        assert "would get the score 2 on a scale from 1 to 5" in req.messages[-1]["content"]


def test_a_user_set_word_limit_is_in_prompt_and_schema():
    j = _judge(max_words=80)
    one, level = j.one_call_request(EXAMPLE), j.level_request(EXAMPLE, 3)
    assert "Keep each summary under 80 words." in one.messages[-1]["content"]
    assert "Keep it under 80 words." in level.messages[-1]["content"]
    assert one.json_schema["properties"]["outputs"]["items"]["properties"]["text"]["maxLength"] == 720
    assert level.json_schema["properties"]["text"]["maxLength"] == 720


def test_defaults_are_the_papers_and_recorded():
    cfg = GenerationConfig()
    assert cfg.variant == "one-call" and cfg.max_words is None
    j = _judge()
    assert j.variant == "one-call" and j.max_words is None
    res = j.run([])
    assert res.stats["variant"] == "one-call" and res.stats["max_words"] is None


def test_report_protocol_labels_a_length_limit_as_a_deviation():
    from profile_align.report.build import judge_protocol

    assert judge_protocol({"variant": "per-level", "k": 5, "max_words": 50}) == \
        "per-level, k = 5, length limit 50 words (deviation from the paper)"
    assert judge_protocol({"both_orders": True}) is None
