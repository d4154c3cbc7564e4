"""Source-based factors read each answer against its OWN references (WebGPT quotes_0/quotes_1), never
a list pooled over every comparison of the question (issue 19). Fixture: tests/data/fixtures/webgpt_own_quotes.jsonl
(one question, two comparisons; "Sunlight scatters off air molecules." is cited with the "Sky" quote in
the first and with the "Ocean" quote in the second)."""

import re
from pathlib import Path

import pytest

from profile_align.backends.fake import last_user
from profile_align.data.loaders import load_dataset
from profile_align.factors import extract_factors
from profile_align.factors.table import compute_factors

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "webgpt_own_quotes.jsonl"
SUN = "Sunlight scatters off air molecules."


@pytest.fixture
def ds():
    return load_dataset(FIXTURE)


def _oid(ds, text, quote_title):
    return next(o.id for o in ds.outputs if o.text == text and o.sources[0].startswith(quote_title))


def test_novel_words_against_each_answers_own_quotes(ds):
    v = compute_factors(ds, ["novel_words", "n_novel_words"]).values
    # "Sunlight scatters off air molecules." stems {sunlight, scatter, off, air, molecul}:
    # all in its own "Sky" quote -> 0/5; none in the "Ocean" quote it is cited with in comparison 2 -> 5/5
    # (pooled over the question's quotes both would be 0).
    assert v.loc[_oid(ds, SUN, "Sky"), "novel_words"] == 0.0
    assert v.loc[_oid(ds, SUN, "Ocean"), "novel_words"] == 1.0
    assert v.loc[_oid(ds, SUN, "Ocean"), "n_novel_words"] == 5
    # "Blue light bends in raindrops." {bend, blue, in, light, raindrop} against its "Rain" quote
    # {bend, into, light, rain, rainbow, raindrop}: blue and in are novel -> 2/5 (pooled: "in" is in the
    # Sky quote -> 1/5)
    assert v.loc[_oid(ds, "Blue light bends in raindrops.", "Rain"), "novel_words"] == pytest.approx(2 / 5)
    # "Oceans reflect the blue sky." against "Ocean: The ocean reflects the sky.": blue -> 1/5
    assert v.loc[_oid(ds, "Oceans reflect the blue sky.", "Ocean"), "novel_words"] == pytest.approx(1 / 5)


def _words(s):
    return set(re.findall(r"[a-z]+", s.lower()))


def _section(req, start, end=None):
    text = last_user(req).split(start, 1)[1]
    return text.split(end, 1)[0] if end else text


def _statements(req):
    return [re.sub(r"^\d+\.\s*", "", line) for line in _section(req, "STATEMENTS:\n", "\n\n").splitlines()
            if line.strip()] if "STATEMENTS:" in last_user(req) else []


def source_rule(req):
    """facts = sentences; support: every word of the fact is in the SOURCE DOCUMENT; coverage: at least
    half of the fact's words longer than 3 letters are in the TEXT."""
    v = req.prompt_version
    if v.startswith("atomic_facts"):
        text = _section(req, "TEXT:")
        return {"facts": [s.strip() + "." for s in text.split(".") if s.strip()]}
    if v.startswith("fact_support"):
        src = _words(_section(req, "SOURCE DOCUMENT:\n", "\n\nSTATEMENTS:"))
        return {str(i): "yes" if _words(f) <= src else "no" for i, f in enumerate(_statements(req), 1)}
    if v.startswith("fact_coverage"):
        text = _words(_section(req, "TEXT:"))
        out = {}
        for i, f in enumerate(_statements(req), 1):
            long = [w for w in re.findall(r"[a-z]+", f.lower()) if len(w) > 3]
            out[str(i)] = "yes" if sum(w in text for w in long) * 2 >= len(long) else "no"
        return out
    raise AssertionError(f"unexpected prompt {v}")


def test_llm_source_factors_use_each_answers_own_quotes(ds, make_client):
    client, backend = make_client(rule=source_rule, cache=None)
    res = extract_factors(ds, ["hallucination", "source_coverage"], client=client, progress=False)
    v = res.table.values
    sky, ocean = _oid(ds, SUN, "Sky"), _oid(ds, SUN, "Ocean")
    # the same text: supported by its own Sky quote, not by the Ocean quote of the other comparison
    assert v.loc[sky, "hallucination"] == 0.0 and v.loc[ocean, "hallucination"] == 1.0
    # the one source fact of its own quote: covered (Sky: 3 of 4 long words) / not (Ocean: none);
    # pooled, both would be 1/3 (three source facts, one covered)
    assert v.loc[sky, "source_coverage"] == 1.0 and v.loc[ocean, "source_coverage"] == 0.0
    # the sources decomposed are the answers' own: Sky, Rain, Ocean (cited by both answers of comparison 2)
    assert res.failures["atomic_facts_source"]["requests"] == 3
    shown = [u for u in backend.calls_by_prompt if u.startswith("SOURCE DOCUMENT:")]
    assert len(shown) == 4 and all(("Sky:" in s) + ("Rain:" in s) + ("Ocean:" in s) == 1 for s in shown)  # never pooled
    # the same text with different references is asked about twice (not merged by its text hash)
    assert res.failures["fact_support"]["requests"] == 4
