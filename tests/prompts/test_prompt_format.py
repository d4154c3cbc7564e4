"""The one prompt format (profile_align.prompts): parsing, strict fields, verbatim insertion, requests."""

import pytest

from profile_align.prompts import (Prompt, PromptError, fill, load_prompt, load_texts, parse_prompt, parse_texts,
                                   template_fields)

GOOD = "version: 3\n[system]\nYou judge $nouns.\n[user]\n$context\n\nCompare ${noun}s: $$5 each.\n"


def test_parse_sections_version_and_fields():
    p = parse_prompt("demo", GOOD)
    assert (p.version, p.tag, p.system) == ("3", "demo@3", "You judge $nouns.")
    assert p.user == "$context\n\nCompare ${noun}s: $$5 each."
    assert p.fields() == {"nouns", "context", "noun"}


def test_render_inserts_texts_verbatim_and_unescapes_double_dollar():
    p = parse_prompt("demo", GOOD)
    msgs = p.render(nouns="a {x} $y", context="C $z {0}", noun="summary")
    assert msgs == [{"role": "system", "content": "You judge a {x} $y."},
                    {"role": "user", "content": "C $z {0}\n\nCompare summarys: $5 each."}]


def test_no_system_section_gives_no_system_message():
    p = parse_prompt("u", "version: 1\n[user]\nHi $name")
    assert p.render(name="x") == [{"role": "user", "content": "Hi x"}]


@pytest.mark.parametrize("fields,msg", [({"nouns": "a", "context": "b"}, r"missing \['noun'\]"),
                                        ({"nouns": "a", "context": "b", "noun": "c", "extra": "d"},
                                         r"unexpected \['extra'\]")])
def test_missing_or_unexpected_field_is_an_error(fields, msg):
    with pytest.raises(PromptError, match=msg):
        parse_prompt("demo", GOOD).render(**fields)


@pytest.mark.parametrize("raw,msg", [
    ("[user]\nhi", "line 1: must be 'version: N'"),
    ("version: one\n[user]\nhi", "line 1"),
    ("version: 1\n[system]\nonly system", r"no \(or an empty\) \[user\]"),
    ("version: 1\nstray\n[user]\nhi", "line 2: text before"),
    ("version: 1\n[user]\na\n[user]\nb", "appears twice"),
    ("version: 1\n[user]\ncosts $5", r"write \$\$ for a literal dollar"),
    ("version: 1\n[user]\n$seed and $text", r"named like Request fields"),
])
def test_malformed_files_name_the_problem(raw, msg):
    with pytest.raises(PromptError, match=msg):
        parse_prompt("bad", raw, package="profile_align.judges")


def test_request_splits_fields_from_request_keywords_and_rejects_others():
    p = parse_prompt("demo", GOOD).with_defaults(temperature=0.0)
    r = p.request(nouns="a", context="b", noun="c", max_tokens=7, seed=3)
    assert (r.max_tokens, r.seed, r.temperature, r.prompt_type, r.prompt_version) == (7, 3, 0.0, "demo", "demo@3")
    assert p.request(nouns="a", context="b", noun="c", temperature=0.5, prompt_type="x").temperature == 0.5
    with pytest.raises(PromptError, match=r"\['colour'\] are neither its fields"):
        p.request(nouns="a", context="b", noun="c", colour="red")
    with pytest.raises(PromptError, match="not Request fields"):
        p.with_defaults(colour="red")


def test_fill_and_template_fields():
    assert template_fields("a $x ${y}z $$w") == {"x", "y"}
    assert fill("Keep $n", {"n": "{1}"}) == "Keep {1}"
    with pytest.raises(PromptError, match="snippet: .*missing"):
        fill("Keep $n", {}, where="snippet")


def test_load_prompt_from_a_package_and_unknown_names():
    p = load_prompt("evaluation", package="profile_align.judges")
    assert isinstance(p, Prompt) and p.package == "profile_align.judges"
    with pytest.raises(PromptError, match="known: evaluation"):
        load_prompt("nope", package="profile_align.judges")


def test_load_texts_reads_the_versioned_snippet_tables():
    t = load_texts("tasks", package="profile_align.judges")
    assert t.version == "2" and t.tag == "tasks@2" and "summarization" in t.entries["tasks"]
    g = load_texts("guidance", package="profile_align.experiments")
    assert g.version == "2" and all(isinstance(v, str) for v in g.entries["sentences"].values())
    with pytest.raises(PromptError, match="no prompt texts"):
        load_texts("nope", package="profile_align.judges")


@pytest.mark.parametrize("raw,msg", [
    ("a: b", "integer 'version'"),
    ("version: 1\nx: [1, 2]", "x must be a text or a mapping of texts, got list"),
    ("version: 1\nx: {y: 3}", "x.y must be a text"),
    ("version: 1\nx: 'unclosed", "not valid YAML"),
])
def test_malformed_snippet_tables_name_the_key(raw, msg):
    with pytest.raises(PromptError, match=msg):
        parse_texts("t", raw)


def test_snippet_table_values():
    t = parse_texts("t", "version: 4\nlimits:\n  one: Keep it under $n words.\n")
    assert t.tag == "t@4" and fill(t.entries["limits"]["one"], {"n": 5}) == "Keep it under 5 words."
