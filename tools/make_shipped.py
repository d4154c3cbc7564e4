"""Rebuild the shipped copies in this folder from the project's ``shared/data`` set (a maintainer
script; the package never reads ``shared/data`` at run time).

    python tools/make_shipped.py [path/to/shared/data]

Default source: ``../shared/data`` relative to the repository root. The outputs are gzipped JSONL
with mtime 0 and no file name in the gzip header, so rebuilding gives byte-identical files. Cuts:

- ``summeval_20.jsonl.gz``: the rows of the first 20 documents (in file order of first appearance),
  all 16 systems each; fields id, doc_id, source, reference, system, summary, ratings (the 11-item
  ``references`` list is left out to save space);
- ``hh_rlhf_harmless_200.jsonl.gz``: the first 200 rows of ``hh_rlhf_harmless_base_test.jsonl``;
- ``llmbar.jsonl.gz``, ``mtbench_human.jsonl.gz``, ``triviaqa_150.jsonl.gz``: every row.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
HERE = ROOT / "src" / "profile_align" / "data" / "shipped"  # where the shipped copies live
DEFAULT_SOURCE = ROOT.parent / "shared" / "data"

SUMMEVAL_FIELDS = ("id", "doc_id", "source", "reference", "system", "summary", "ratings")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_jsonl_gz(path: Path, rows: Iterable[dict]) -> int:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                compresslevel=9) as gz:
        gz.write(data)
    return data.count(b"\n")


def cut_summeval(rows: list[dict], n_docs: int = 20) -> list[dict]:
    docs: list[str] = []
    for r in rows:
        if r["doc_id"] not in docs:
            docs.append(r["doc_id"])
    keep = set(docs[:n_docs])
    return [{k: r[k] for k in SUMMEVAL_FIELDS} for r in rows if r["doc_id"] in keep]


CUTS: dict[str, tuple[str, Callable[[list[dict]], list[dict]]]] = {
    "summeval_20.jsonl.gz": ("summeval_bartscore.jsonl", cut_summeval),
    "hh_rlhf_harmless_200.jsonl.gz": ("hh_rlhf_harmless_base_test.jsonl", lambda rows: rows[:200]),
    "llmbar.jsonl.gz": ("llmbar.jsonl", lambda rows: rows),
    "mtbench_human.jsonl.gz": ("mtbench_human_llmbar.jsonl", lambda rows: rows),
    "triviaqa_150.jsonl.gz": ("triviaqa_150.jsonl", lambda rows: rows),
}


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    for out_name, (src_name, cut) in CUTS.items():
        rows = cut(read_jsonl(source / src_name))
        n = write_jsonl_gz(HERE / out_name, rows)
        digest = hashlib.sha256((HERE / out_name).read_bytes()).hexdigest()[:16]
        print(f"{out_name}: {n} rows from {src_name}, {(HERE / out_name).stat().st_size} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
