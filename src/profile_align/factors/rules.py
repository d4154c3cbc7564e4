"""Rule-based factors: length and novel words (PROFILE section 2).

* ``length`` — number of white-space separated words after deleting every character that is neither
  a letter, a digit, an underscore nor white space (Unicode-aware: ``é``, ``ß``, CJK are letters), so
  ``it's`` is one word and a lone ``--`` or ``.`` token is none.
* ``novel_words`` — the *proportion* of unique stemmed output words (Snowball/Porter2 English stemmer,
  lower-cased) that do not occur among the stemmed source words (0 for an empty output). The paper
  extracts "the number and proportion" of novel words; its task sets use the proportion (its human
  score for novel words, -.167, has the opposite sign of length's, +.257, which the count could not
  show: the count grows with length).
* ``n_novel_words`` — the number of those novel unique stems (an extra factor, in no task set).

Both are declared with :func:`~profile_align.factors.registry.register_factor`, the decorator users get.

The source is ``example.source_text`` of the example the rule function is given, which the engine
passes as the output sees it (:meth:`Example.for_output`): the post or article; in document QA the
output's OWN reference quotes (a WebGPT answer's ``quotes_i``), else the example's references.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from .registry import register_factor

__all__ = ["words", "length", "stems", "novel_words", "n_novel_words", "novel_stats"]

_SPECIAL = re.compile(r"[^\w\s]+", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)
_stemmer = snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """Words of a text after removing special characters."""
    return _SPECIAL.sub("", text).split()


@register_factor("length", label="length", description="words in the output after removing special characters",
                 level2="verbosity", level3="Output-Only", value_type="count", builtin=True)
def length(text: str, example: object = None) -> float:
    """Words in the output after removing special characters."""
    return float(len(words(text)))


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def stems(text: str) -> frozenset[str]:
    """Unique lower-cased, stemmed words of a text (underscores split words)."""
    toks = (t for w in _WORD.findall(text.lower()) for t in w.split("_") if t)
    return frozenset(_stem(t) for t in toks)


@lru_cache(maxsize=4096)
def _source_stems(source: str) -> frozenset[str]:
    # Many outputs share one source: stem it once.
    return stems(source)


def novel_stats(text: str, source: str) -> tuple[int, int]:
    """(novel unique stems, unique output stems)."""
    out = stems(text)
    return len(out - _source_stems(source)), len(out)


@register_factor("novel_words", label="novel words",
                 description="share of unique stemmed output words absent from the stemmed source",
                 level2="style", level3="Source-Output", value_type="ratio", builtin=True)
def novel_words(text: str, example) -> float:
    """Share of unique stemmed output words absent from the stemmed source (0 for an empty output)."""
    novel, total = novel_stats(text, example.source_text)
    return novel / total if total else 0.0


@register_factor("n_novel_words", label="# novel words",
                 description="unique stemmed output words absent from the stemmed source",
                 level2="style", level3="Source-Output", value_type="count", builtin=True)
def n_novel_words(text: str, example) -> float:
    """Unique stemmed output words absent from the stemmed source."""
    return float(novel_stats(text, example.source_text)[0])
