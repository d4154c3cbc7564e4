"""Rule-based factors: length and novel words (PROFILE section 2).

* ``length`` — number of white-space separated words after deleting every character that is neither
  a letter, a digit, an underscore nor white space (Unicode-aware: ``é``, ``ß``, CJK are letters), so
  ``it's`` is one word and a lone ``--`` or ``.`` token is none.
* ``novel_words`` — number of unique *stemmed* output words that do not occur among the stemmed
  source words (Snowball/Porter2 English stemmer, lower-cased); ``novel_words_ratio`` is that count
  divided by the number of unique stemmed output words (0 for an empty output).

The source is :attr:`Example.source_text` (the post or article; the reference quotes in document QA).
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache

import snowballstemmer

from ..taxonomy import REGISTRY, Factor, Level3, ValueType

__all__ = ["words", "length", "stems", "novel_words", "novel_words_ratio", "novel_stats"]

_SPECIAL = re.compile(r"[^\w\s]+", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)
_stemmer = snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """Words of a text after removing special characters."""
    return _SPECIAL.sub("", text).split()


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


def novel_words(text: str, example) -> float:
    """Unique stemmed output words absent from the stemmed source."""
    return float(novel_stats(text, example.source_text)[0])


def novel_words_ratio(text: str, example) -> float:
    """Share of unique stemmed output words absent from the stemmed source."""
    novel, total = novel_stats(text, example.source_text)
    return novel / total if total else 0.0


def _attach(name: str, fn) -> None:
    REGISTRY.add(dataclasses.replace(REGISTRY.get(name), fn=fn), replace=True)


_attach("length", length)
_attach("novel_words", novel_words)
if "novel_words_ratio" not in REGISTRY:
    REGISTRY.add(Factor(
        "novel_words_ratio", "novel words %", "share of unique stemmed output words absent from the stemmed source",
        "style", Level3.SOURCE_OUTPUT, ValueType.RATIO, "rule", 0, novel_words_ratio,
    ))
