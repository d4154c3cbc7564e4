"""Rows from the Hugging Face Hub (``hub`` extra: ``pip install profile-align[hub]``).

``hf:<name>[:<config>][@<split>]``, e.g. ``hf:openai/summarize_from_feedback:axis@validation``,
``hf:stanfordnlp/SHP-2@train``, ``hf:openai/webgpt_comparisons``. Without a split every split is read,
in the order the hub lists them. Rows go through the same parsers as local files; a row's "line" is
its 1-based index in its split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .io import Record

__all__ = ["HubSpec", "parse_hub_source", "hub_records", "HubUnavailableError"]


class HubUnavailableError(ImportError):
    """The ``datasets`` package (the ``hub`` extra) is not installed."""


@dataclass(frozen=True)
class HubSpec:
    name: str
    config: str | None = None
    split: str | None = None

    def __str__(self) -> str:
        return "hf:" + self.name + (f":{self.config}" if self.config else "") + (f"@{self.split}" if self.split else "")


def parse_hub_source(source: str) -> HubSpec:
    """Parse ``hf:<name>[:<config>][@<split>]``."""
    if not source.startswith("hf:"):
        raise ValueError(f"not a hub source: {source!r} (expected hf:<name>[:<config>][@<split>])")
    rest = source[3:]
    rest, _, split = rest.partition("@")
    name, _, config = rest.partition(":")
    if not name:
        raise ValueError(f"hub source {source!r} names no dataset")
    return HubSpec(name, config or None, split or None)


def _datasets() -> Any:
    try:
        import datasets  # noqa: PLC0415 (optional dependency, imported lazily)
    except ImportError as e:
        raise HubUnavailableError(
            "loading from the Hugging Face Hub needs the 'hub' extra: pip install 'profile-align[hub]' "
            "(or download the file and load it by path)") from e
    return datasets


def hub_records(spec: HubSpec, **load_kwargs: Any) -> Iterator[Record]:
    """Yield the rows of a hub dataset (``load_kwargs`` go to ``datasets.load_dataset``, e.g.
    ``data_files=`` for the ``json`` builder)."""
    ds_mod = _datasets()
    loaded = ds_mod.load_dataset(spec.name, spec.config, split=spec.split, **load_kwargs)
    splits = [(spec.split, loaded)] if spec.split else list(loaded.items())
    for split, ds in splits:
        where = f"{HubSpec(spec.name, spec.config, split)}"
        for i, row in enumerate(ds, start=1):
            yield Record(where, i, dict(row))
