"""Issue 14 item 10: a reply with several JSON answers that disagree is unparseable, never a guess."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from profile_align.backends import ParseError, extract_json, parse_model

CHATTY = ('If 1 were better I would write {"better": "1"}. '
          'My verdict: {"better": "2", "justification": "more detail"}')


class Pairwise(BaseModel):
    better: str
    justification: str = ""


def test_disagreeing_candidates_are_unparseable():
    with pytest.raises(ParseError, match="disagree"):
        extract_json(CHATTY)
    with pytest.raises(ParseError, match="disagree"):
        parse_model(CHATTY, Pairwise)
    with pytest.raises(ParseError, match="disagree"):
        extract_json('```json\n{"better": "1"}\n```\nOn reflection: ```json\n{"better": "2"}\n```')


def test_agreeing_candidates_give_the_most_complete():
    text = 'Verdict {"better": "2"}. In full: {"better": "2", "justification": "x"}'
    assert extract_json(text) == {"better": "2", "justification": "x"}
    assert parse_model(text, Pairwise).better == "2"
    assert extract_json('```json\n{"a": 1}\n```\nagain: {"a": 1}') == {"a": 1}


def test_only_candidates_that_validate_count():
    text = 'Options were {"x": 1} and {"y": 2}; answer: {"better": "2"}'
    assert parse_model(text, Pairwise).better == "2"
    schema = {"type": "object", "required": ["better"], "properties": {"better": {"enum": ["1", "2"]}}}
    assert extract_json('scale [1, 2]; {"better": "1"}', schema=schema) == {"better": "1"}
    with pytest.raises(ParseError, match="disagree"):
        extract_json('{"better": "1"} or {"better": "2"}', schema=schema)
