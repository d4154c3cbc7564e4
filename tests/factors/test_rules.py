import math

import pytest

from profile_align.data.model import Example
from profile_align.factors.rules import length, n_novel_words, novel_stats, novel_words, stems, words


def ex(source: str) -> Example:
    return Example("e1", "summarization", source)


@pytest.mark.parametrize("text,n", [
    ("Hello, world!", 2),
    ("it's a well-known fact -- 3.5 kg .", 6),  # its a wellknown fact 35 kg: it's -> its, well-known -> wellknown, 3.5 -> 35, lone -- and . vanish
    ("", 0),
    ("   \n\t ", 0),
    ("naïve café Straße", 3),  # Unicode letters are letters
    ("东京 is big", 3),
    ("team 's win", 3),  # SummEval's tokenised text
    ("!!! ??? ...", 0),
])
def test_length(text, n):
    assert length(text) == n
    assert len(words(text)) == n


def test_stems_lowercase_and_stem():
    assert stems("Running runs RUN") == frozenset({"run"})
    assert stems("") == frozenset()


def test_novel_words_hand_worked():
    source = "The cats were running quickly. Café naïve!"
    # output stems: cat, run, fast, dog, bark ; source stems: the, cat, were, run, quick, café, naïv
    assert novel_stats("Cats run fast, dogs bark", source) == (3, 5)
    # the paper's task sets use the proportion (3 of 5 unique stems are novel); the count is an extra
    assert math.isclose(novel_words("Cats run fast, dogs bark", ex(source)), 0.6)
    assert n_novel_words("Cats run fast, dogs bark", ex(source)) == 3


def test_novel_words_is_the_proportion_in_the_registry_and_the_count_an_extra():
    from profile_align.taxonomy import REGISTRY, TASK_FACTORS, ValueType

    assert REGISTRY.get("novel_words").value_type is ValueType.RATIO
    assert REGISTRY.get("n_novel_words").value_type is ValueType.COUNT
    assert all("n_novel_words" not in names for names in TASK_FACTORS.values())
    # a longer output with the same share of novel words keeps the proportion and doubles the count
    e = ex("alpha beta")
    assert novel_words("alpha gamma", e) == novel_words("alpha beta gamma delta", e) == 0.5
    assert (n_novel_words("alpha gamma", e), n_novel_words("alpha beta gamma delta", e)) == (1, 2)


def test_novel_words_uses_sources_when_present():
    e = Example("e1", "document_qa", "Why is the sky blue?", sources=("Rayleigh scattering of sunlight",))
    assert novel_words("Rayleigh scattering", e) == 0
    assert novel_words("the sky", e) == 1.0  # question words are not the source in document QA
    assert n_novel_words("the sky", e) == 2


def test_empty_output_is_zero_not_crash():
    assert novel_words("", ex("anything")) == 0.0
    assert n_novel_words("", ex("anything")) == 0
