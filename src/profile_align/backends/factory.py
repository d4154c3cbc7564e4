"""The one place a :class:`~profile_align.backends.Client` is built, with the one cache rule:

1. an explicit ``cache`` (a :class:`Cache`, or a file) wins;
2. else the run directory's cache (:attr:`profile_align.rundir.RunDir.cache_path`: the manifest's
   ``cache_path``, the config's ``backend.cache``, else ``<run>/cache.sqlite``);
3. else the user cache (:func:`~profile_align.backends.cache.default_cache_path`).

``cache_mode`` ``off`` neither reads nor writes (probes, backend checks), ``refresh`` overwrites.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Backend
from .cache import Cache, CacheMode
from .client import Client

__all__ = ["make_client", "resolve_cache_path", "cache_mode_of"]


def cache_mode_of(*, refresh: bool = False, no_cache: bool = False) -> CacheMode:
    """The cache mode of the ``--refresh`` / ``--no-cache`` flags every command shares."""
    return "off" if no_cache else ("refresh" if refresh else "use")


def resolve_cache_path(cache: str | Path | None = None, run_dir: Any = None) -> Path | None:
    """The cache file by the rule above (None: the user cache)."""
    if cache is not None:
        return Path(cache)
    if run_dir is None:
        return None
    from ..rundir import RunDir  # lazy: the run directory layer sits above the backends

    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir, create=True)
    return rd.cache_path


def make_client(model: str | Backend | Client = "local", *, cache: Cache | str | Path | None = None,
                run_dir: Any = None, cache_mode: str = "use", **options: Any) -> Client:
    """A :class:`Client` for ``model`` (a model string, a Backend, or a Client, returned as it is).

    ``options`` go to :class:`Client` (``concurrency``, ``timeout_s``, ``max_retries``, ``accounting``,
    ``progress``, ``console``, ``backend_options``, ...).
    """
    if isinstance(model, Client):
        return model
    if not isinstance(cache, Cache):
        path = resolve_cache_path(cache, run_dir)
        if path is not None and cache_mode != "off":
            path.parent.mkdir(parents=True, exist_ok=True)
        cache = Cache(path, mode=cache_mode)  # type: ignore[arg-type]
    return Client(model, cache=cache, cache_mode=cache_mode, **options)  # type: ignore[arg-type]
