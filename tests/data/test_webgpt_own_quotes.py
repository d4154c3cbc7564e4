"""WebGPT: each answer carries its own references (quotes_0 for answer_0, quotes_1 for answer_1), issue 19."""

import json

import pytest

from profile_align.data.dataset import Dataset
from profile_align.data.loaders import load_dataset
from profile_align.data.loaders.builder import DatasetBuilder
from profile_align.data.model import Example, Output

SKY = "Sky: Sunlight scatters off air molecules in the atmosphere."
RAIN = "Rain: Raindrops bend light into rainbows."
OCEAN = "Ocean: The ocean reflects the sky."
SUN = "Sunlight scatters off air molecules."


@pytest.fixture
def ds(fixtures):
    return load_dataset(fixtures / "webgpt_own_quotes.jsonl")


def test_each_answer_has_its_own_quotes(ds):
    by = {(o.text, o.sources) for o in ds.outputs}
    assert by == {(SUN, (SKY,)), ("Blue light bends in raindrops.", (RAIN,)), (SUN, (OCEAN,)),
                  ("Oceans reflect the blue sky.", (OCEAN,))}
    # the same answer text cited with other quotes is another output (not merged with the first)
    assert len(ds.outputs) == 4 and len({o.id for o in ds.outputs}) == 4
    assert ds.report.pairs_built == 2
    # the example keeps the union of the question's quotes (what a generator is shown)
    assert ds.examples[0].sources == (SKY, RAIN, OCEAN)


def test_for_output_gives_the_outputs_own_source(ds):
    ex = ds.examples[0]
    outs = {(o.text, o.sources[0]): o for o in ds.outputs}
    assert ex.for_output(outs[SUN, SKY]).source_text == SKY
    assert ex.for_output(outs[SUN, OCEAN]).source_text == OCEAN
    # an output without sources of its own reads the example's; empty own sources: the input alone
    assert ex.for_output(Output("g", ex.id, "generated")) is ex
    assert ex.for_output(Output("h", ex.id, "no quotes", sources=())).source_text == ex.input


def test_round_trip_keeps_none_and_empty_sources_apart(ds):
    outs = [*ds.outputs, Output("q_sky::none", "q_sky", "x"), Output("q_sky::empty", "q_sky", "y", sources=())]
    ds2 = Dataset(ds.name, ds.task, ds.examples, outs, ds.pairs, ds.preferences, ds.report)
    back = Dataset.from_frames(ds2.to_frames(), name=ds.name, task=ds.task)
    assert back.outputs == outs
    assert [o.sources for o in back.outputs[-2:]] == [None, ()]


def test_builder_dedupes_by_text_and_own_sources():
    b = DatasetBuilder()
    b.example("e", "q")
    first = b.output("e", "same", sources=["s1"])
    assert b.output("e", "same", sources=("s1",)) == first
    other = b.output("e", "same", sources=["s2"])
    plain = b.output("e", "same")
    assert len({first, other, plain}) == 3
    assert b.outputs[other].sources == ("s2",) and b.outputs[plain].sources is None
    b.set_output_metadata(other, k=1)
    assert b.outputs[other].sources == ("s2",) and b.outputs[other].metadata["k"] == 1


def test_a_string_is_not_a_source_list():
    with pytest.raises(TypeError, match="sequence of passages"):
        Output("o", "e", "t", sources="one passage")
    assert Example("e", "document_qa", "q").for_output(Output("o", "e", "t")).sources == ()


def test_generic_mapping_of_each_outputs_own_references(tmp_path):
    rows = [
        {"q": "Why?", "x": "Same answer.", "y": "Other.", "ra": ["ref one"], "rb": '["ref two"]', "w": "a"},
        {"q": "Why?", "x": "Same answer.", "y": "Third.", "ra": "ref three", "rb": [], "w": "b"},
    ]
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    m = "input=q,output_a=x,output_b=y,preferred=w,example_id=q,sources_a=ra,sources_b=rb"
    ds = load_dataset(f, format="generic", mapping=m)
    assert sorted((o.text, o.sources) for o in ds.outputs) == [
        ("Other.", ("ref two",)), ("Same answer.", ("ref one",)), ("Same answer.", ("ref three",)), ("Third.", ())]
    with pytest.raises(ValueError, match="sources_a and sources_b together"):
        load_dataset(f, format="generic", mapping="input=q,output_a=x,output_b=y,preferred=w,sources_a=ra")
