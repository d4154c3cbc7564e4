from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from profile_align.backends import ParseError, extract_json, parse_model, schema_errors


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Sure! Here you go:\n```json\n{"a": [1, 2]}\n```\nAnything else?', {"a": [1, 2]}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('The answer is {"a": "b}c"} as requested.', {"a": "b}c"}),
        ("{'a': 'it''s', 'b': True, 'c': None}", {"a": "its", "b": True, "c": None}),
        ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
        ("{'facts': ['x', 'y',]}", {"facts": ["x", "y"]}),
        ('I don\'t know, but {"verdict": "A"}', {"verdict": "A"}),
        ('{"a": true, "b": None}', {"a": True, "b": None}),
        ('```json\n{"a": 1, "b": 2}', {"a": 1, "b": 2}),  # unterminated fence
        ("[1, 2, 3]", [1, 2, 3]),
    ],
)
def test_extract_json(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "no json here", '{"a": ', "I think the answer is yes", None])
def test_extract_json_fails_loudly(text):
    with pytest.raises(ParseError):
        extract_json(text)


class Verdict(BaseModel):
    better: str
    confidence: float


def test_parse_model():
    v = parse_model('```json\n{"better": "A", "confidence": 0.7}\n```', Verdict)
    assert v == Verdict(better="A", confidence=0.7)
    with pytest.raises(ParseError, match="Verdict"):
        parse_model('{"better": "A"}', Verdict)


def test_schema_errors():
    schema = {"type": "object", "required": ["a", "b"], "additionalProperties": False,
              "properties": {"a": {"type": "integer", "minimum": 0},
                             "b": {"type": "array", "items": {"type": "string", "maxLength": 3}},
                             "c": {"enum": ["x", "y"]}}}
    assert schema_errors({"a": 1, "b": ["abc"]}, schema) == []
    errs = schema_errors({"a": -1, "b": ["abcd", 3], "c": "z", "d": 1}, schema)
    assert len(errs) == 5
    assert schema_errors({"a": True, "b": []}, schema)  # bool is not an integer
    assert schema_errors({"a": 1}, schema) == ["$: missing 'b'"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(obj=st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5),
       before=st.sampled_from(["", "Here is the JSON:\n", "Sure.\n```json\n"]),
       after=st.sampled_from(["", "\nHope this helps!", "\n```\nDone."]))
def test_extract_json_roundtrip(obj, before, after):
    assert extract_json(before + json.dumps(obj) + after) == obj


def test_backticks_inside_a_json_string_do_not_cut_the_value():
    # an unclosed fence, then an object with "```" in a key: the fence pattern stops inside the string;
    # the piece it cut ([]) is no answer of its own (hypothesis found this)
    text = 'Sure.\n```json\n' + json.dumps({"": [], "```": None})
    assert extract_json(text) == {"": [], "```": None}
    text = 'Sure.\n```json\n' + json.dumps({"0": [], "": [None], "```": None})
    assert extract_json(text) == {"0": [], "": [None], "```": None}
