"""Document QA with each answer's own references (WebGPT quotes_0/quotes_1; paper Appendix D.2.1): the
evaluation prompt shows "Answer 1 + its references, Answer 2 + its references", never one list pooled
over every comparison of the question (issue 19). Fixture: tests/data/fixtures/webgpt_own_quotes.jsonl."""

from pathlib import Path

import pytest

from profile_align.backends import Client
from profile_align.backends.fake import FakeBackend, last_user
from profile_align.data.loaders import load_dataset
from profile_align.data.model import Example, Output
from profile_align.judges import EvaluationJudge, RewardModelJudge
from profile_align.judges.wording import evaluation_layout

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "webgpt_own_quotes.jsonl"
SKY = "Sky: Sunlight scatters off air molecules in the atmosphere."
RAIN = "Rain: Raindrops bend light into rainbows."
OCEAN = "Ocean: The ocean reflects the sky."

# The whole user message of the first comparison in the order (Sunlight answer, raindrops answer).
EXPECTED_USER = """Question:
Why is the sky blue?

Below are two answers written for the text above, each followed by the reference passages it was written from. Decide which one is better. A better answer addresses the question more correctly and more usefully, in line with the reference passages.

Answer 1:
Sunlight scatters off air molecules.

References for answer 1:
[1] Sky: Sunlight scatters off air molecules in the atmosphere.

Answer 2:
Blue light bends in raindrops.

References for answer 2:
[1] Rain: Raindrops bend light into rainbows.

Reply with a JSON object with two keys: "better" is "1" when answer 1 is better, "2" when answer 2 is better, or "Tie" when neither is better; "justification" explains your decision in one or two sentences."""


@pytest.fixture
def ds():
    return load_dataset(FIXTURE)


def _judge(rule=lambda r: {"better": "Tie", "justification": "same"}):
    client = Client(FakeBackend("json", rule=rule, model_id="ev"), cache_mode="off", progress=False)
    return EvaluationJudge(client, label="m", task="document_qa")


def _pair_with(ds, quote):
    outs = ds.output_map()
    return next(p for p in ds.pairs if any(outs[x].sources == (quote,) for x in (p.a, p.b)))


def test_each_answer_is_followed_by_its_own_references(ds):
    outs, ex = ds.output_map(), ds.examples[0]
    p = _pair_with(ds, RAIN)
    sun, rain = sorted((outs[p.a], outs[p.b]), key=lambda o: o.sources != (SKY,))
    req = _judge().request(ex, sun, rain)
    assert req.messages[-1]["content"] == EXPECTED_USER
    assert req.prompt_version == "evaluation_references@1"
    # the other order swaps answers AND their references
    swapped = _judge().request(ex, rain, sun)
    u = swapped.messages[-1]["content"]
    assert u.index("Blue light") < u.index(RAIN) < u.index("Sunlight scatters off air molecules.\n") < u.index(SKY)


def test_two_comparisons_of_one_question_do_not_pool(ds):
    seen = []
    # the justification quotes a reference passage: quoting the sources is not an echo of the instructions
    res = _judge(lambda r: seen.append(last_user(r)) or {"better": "Tie", "justification": "The ocean reflects the sky."}
                 ).run(ds.examples, ds.outputs, ds.pairs)
    assert len(res.answers) == 4 and len(seen) == 4
    assert not res.answers["echo"].any()
    assert res.stats["prompt_version"] == "evaluation_references@1"  # the prompt actually asked
    first = [u for u in seen if RAIN in u]
    second = [u for u in seen if RAIN not in u]
    assert len(first) == len(second) == 2
    assert all(OCEAN not in u for u in first) and all(SKY not in u for u in second)
    # the same answer text is shown with the quotes of ITS comparison
    for u in second:
        i = 1 if u.index("Sunlight scatters") < u.index("Oceans reflect") else 2
        assert f"Sunlight scatters off air molecules.\n\nReferences for answer {i}:\n[1] {OCEAN}" in u


def test_layout_without_own_sources_is_the_usual_prompt():
    ex = Example("e", "document_qa", "Q?", sources=("p1", "p2"))
    a, b = Output("a", "e", "x"), Output("b", "e", "y")
    name, fields = evaluation_layout(ex, "document_qa", a, b)
    assert name == "evaluation" and "Reference passages:\n[1] p1\n[2] p2" in fields["context"]
    # one output with its own (empty) references, the other reading the example's
    name, fields = evaluation_layout(ex, "document_qa", Output("c", "e", "z", sources=()), b)
    assert name == "evaluation_references" and fields["context"] == "Question:\nQ?"
    assert (fields["references_1"], fields["references_2"]) == ("(none)", "[1] p1\n[2] p2")
    # a summarised article is the context itself: no per-answer references there
    assert evaluation_layout(ex, "summarization", Output("c", "e", "z", sources=("s",)), b)[0] == "evaluation"


class _Recorder:
    model = "rec"

    def __init__(self):
        self.prompts = []

    def score(self, prompts, responses, calls=None):
        self.prompts += list(prompts)
        return [float(len(r)) for r in responses]


def test_reward_model_sees_each_answers_own_references(ds):
    rec = _Recorder()
    RewardModelJudge(rec, label="r").run(ds.examples, ds.outputs, ds.pairs)
    assert len(rec.prompts) == 4  # the same text with other references is scored again
    assert all(("Sky:" in p) + ("Rain:" in p) + ("Ocean:" in p) == 1 for p in rec.prompts)
