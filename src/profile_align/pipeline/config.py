"""The configuration of a PROFILE run (YAML <-> pydantic). Unknown keys are errors, so a typo never
silently falls back to a default. See docs/run.md for every field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["RunConfig", "DatasetConfig", "SampleConfig", "JudgeConfig", "GenerationConfig", "EvaluationConfig",
           "RewardModelConfig", "BackendConfig", "StatsConfig", "FactorsConfig", "load_config", "ConfigError",
           "apply_overrides", "check_data_source", "HUB_SOURCES"]

# Where the data of a format can be read from the Hugging Face Hub (named in the error for a missing file).
HUB_SOURCES: dict[str, str] = {
    "tldr_axis": "hf:openai/summarize_from_feedback:axis",
    "tldr_comparisons": "hf:openai/summarize_from_feedback:comparisons",
    "webgpt": "hf:openai/webgpt_comparisons",
    "shp": "hf:stanfordnlp/SHP-2",
    "hh_rlhf": "hf:Anthropic/hh-rlhf",
}


class ConfigError(ValueError):
    """A config file that cannot be read or validated (message names the file and the field)."""


Setting = Literal["evaluation", "generation"]


def _both_settings() -> list[Setting]:
    return ["evaluation", "generation"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_policy(v: Any) -> Any:
    """A tie-policy name (``profile_align.stats.POLICIES``), or a mapping setting -> name."""
    from ..stats.tau import get_policy

    for name in (v.values() if isinstance(v, dict) else [v]):
        if name is not None:
            get_policy(name)  # ValueError lists the known names
    return v


class DatasetConfig(_Strict):
    source: str = Field(description="a file, a shipped set name (summeval, hh-rlhf, ...) or hf:<name>")
    format: str | None = None
    task: str | None = None
    domain: str | None = None
    aspect: str = "mean"
    mapping: dict[str, str] | None = None
    label_map: dict[str | int, str] | None = None  # generic: value of the preferred column -> a | b | tie
    skip_invalid: bool = False
    limit: int | None = None
    tie_policy: str | None = Field(None, description="tie policy of the human judge (default: human, factor-tied "
                                                     "pairs omitted; factor-ties-counted = Feedback Forensics' strength)")

    @field_validator("tie_policy")
    @classmethod
    def _known_policy(cls, v: Any) -> Any:
        return _check_policy(v)


class SampleConfig(_Strict):
    examples: int | None = Field(None, ge=1, description="random sample of N examples (None = all)")
    pairs_per_example: int | None = Field(None, ge=1, description="random sample of at most N human pairs per example")
    max_input_words: int | None = Field(None, ge=1, description="keep only examples whose input has at most N words")
    keep_unpaired_outputs: bool = Field(False, description="keep dataset outputs that are in no sampled pair")
    seed: int = 0


class GenerationConfig(_Strict):
    variant: Literal["one-call", "per-level"] = Field(
        "one-call", description="one-call: all k outputs in one request (the paper's); per-level: one request per score")
    k: int = Field(5, ge=2, le=10)
    max_words: int | None = Field(None, ge=5, description="length limit in words (None: none, as in the paper; "
                                                          "a limit is a labelled deviation)")
    direct: bool = False


class EvaluationConfig(_Strict):
    both_orders: bool = True
    combine: str = "tie"
    guidance: str | None = None
    justification_max_chars: int = Field(300, ge=20)


class JudgeConfig(_Strict):
    model: str
    name: str | None = Field(None, description="label in judge names (<name>:generation); default: the model string")
    settings: list[Setting] = Field(default_factory=_both_settings)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    backend_options: dict[str, Any] = Field(default_factory=dict)
    tie_policy: str | dict[Literal["generation", "evaluation"], str] | None = Field(
        None, description="tie policy of this judge's scores: one name for all its settings or one per setting "
                          "(default: evaluation for the evaluation setting, generation for the generation setting)")

    @field_validator("tie_policy")
    @classmethod
    def _known_policy(cls, v: Any) -> Any:
        return _check_policy(v)

    @property
    def label(self) -> str:
        return self.name or self.model

    @field_validator("settings")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a judge needs at least one setting (generation, evaluation)")
        return list(dict.fromkeys(v))


class RewardModelConfig(_Strict):
    name: str
    kind: Literal["transformers", "server"] = "transformers"
    model: str
    url: str | None = None
    tie_tol: float = 0.0
    settings: list[Setting] = Field(
        default_factory=_both_settings,
        description="evaluation: the dataset's pairs (judge rm:<name>); generation: the generators' k outputs "
                    "per example (judge rm:<name>/generation, only when the run has a generation judge)")
    options: dict[str, Any] = Field(default_factory=dict)
    tie_policy: str | dict[Literal["generation", "evaluation"], str] | None = Field(
        None, description="tie policy of this reward model's scores: one name, or one per setting (default: evaluation)")

    @field_validator("tie_policy")
    @classmethod
    def _known_policy(cls, v: Any) -> Any:
        return _check_policy(v)

    @field_validator("settings")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a reward model needs at least one setting (evaluation, generation)")
        return list(dict.fromkeys(v))


class BackendConfig(_Strict):
    cache: str | None = Field(None, description="SQLite cache file (default: cache.sqlite in the run directory)")
    concurrency: int = Field(4, ge=1)
    timeout_s: float = 300.0
    max_retries: int = 4
    temperature: float = 0.6
    top_p: float = 0.9
    max_tokens: int = 1024
    seed: int | None = 0
    max_requests: int | None = Field(None, ge=0, description="stop cleanly after N new LLM requests (resumable)")
    max_cost_usd: float | None = Field(None, ge=0, description="stop cleanly once this much was spent (resumable)")


class FactorsConfig(_Strict):
    names: list[str] | None = Field(None, description="factor names (default: the task's factor set)")
    model: str | None = Field(None, description="model for LLM-extracted factors (default: the first judge's model)")
    unieval: Literal["real", "proxy", "auto"] = Field(
        "auto", description="fluency/coherence scorer: real (the UniEval model, needs the `unieval` extra), proxy "
                            "(UniEval's questions put to the factor model), auto (real when the extra is "
                            "importable, else proxy with a warning in the terminal, manifest and report)")


class StatsConfig(_Strict):
    n_boot: int = Field(1000, ge=0)
    seed: int = 0
    ci: float = 0.95
    agreement_ties: Literal["disagree", "exclude", "half"] = "disagree"
    difference_boot: int = Field(2000, ge=1)
    joint: bool = Field(True, description="also fit the joint, confound-controlled factor model (docs/joint.md)")
    joint_boot: int = Field(200, ge=0, description="bootstrap replicates of the joint model's comparisons")


class RunConfig(_Strict):
    name: str = "run"
    out_dir: str | None = Field(None, description="run directory (default: runs/<name>); --out wins")
    dataset: DatasetConfig
    sample: SampleConfig = Field(default_factory=SampleConfig)
    factors: FactorsConfig = Field(default_factory=FactorsConfig)
    judges: list[JudgeConfig] = Field(default_factory=list)
    reward_models: list[RewardModelConfig] = Field(default_factory=list)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    stats: StatsConfig = Field(default_factory=StatsConfig)
    max_failure_rate: float = Field(0.2, ge=0.0, le=1.0,
                                    description="exit non-zero when a prompt type fails more often than this")

    @model_validator(mode="after")
    def _unique_names(self) -> RunConfig:
        labels = [j.label for j in self.judges] + [f"rm:{r.name}" for r in self.reward_models]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"judge names must be unique; repeated: {dup} (set `name:`)")
        return self

    @property
    def factor_model(self) -> str | None:
        """The model for LLM-extracted factors: ``factors.model``, else the first judge's model."""
        return self.factors.model or (self.judges[0].model if self.judges else None)

    def tie_policies(self) -> dict[str, str]:
        """Judge name -> the tie policy the config sets for it (judges without one are absent)."""
        out = {"human": self.dataset.tie_policy} if self.dataset.tie_policy else {}
        for j in self.judges:
            for setting in j.settings:
                pol = j.tie_policy.get(setting) if isinstance(j.tie_policy, dict) else j.tie_policy
                if pol:
                    out[f"{j.label}:{setting}"] = pol
        for r in self.reward_models:
            for setting in getattr(r, "settings", ["evaluation"]):
                pol = r.tie_policy.get(setting) if isinstance(r.tie_policy, dict) else r.tie_policy
                if pol:
                    out[f"rm:{r.name}" if setting == "evaluation" else f"rm:{r.name}/{setting}"] = pol
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def apply_overrides(data: dict[str, Any], overrides: list[str] | None, where: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` overrides (``--set``): dotted keys into nested mappings, list items by index
    (``judges.0.model=fake:json``); the value is read as YAML (``5``, ``true``, ``[a, b]``, ``null``)."""
    out = copy.deepcopy(data)
    for item in overrides or ():
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where} {item!r}: expected KEY=VALUE, e.g. --set sample.examples=5")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ConfigError(f"{where} {item!r}: the value is not valid YAML: {e}") from None
        parts = key.strip().split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"{where} {item!r}: {'.'.join(parts[:i]) or 'config'} has {len(node)} "
                                      f"item(s); {part!r} is not an index of one")
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise ConfigError(f"{where} {item!r}: {'.'.join(parts[:i])} is a value, not a section")
    return out


def _is_file_source(source: str) -> bool:
    from ..data.loaders.shipped import canonical_name

    return not source.startswith("hf:") and canonical_name(source) is None


def _resolve_paths(cfg: RunConfig, base: Path) -> RunConfig:
    """Relative input paths (``dataset.source``, ``backend.cache``) are read against the config's folder;
    ``out_dir`` stays relative to the working directory (outputs go where the command runs)."""
    src = cfg.dataset.source
    if _is_file_source(src) and not Path(src).expanduser().is_absolute():
        cfg.dataset.source = str(base / src)
    if cfg.backend.cache and not Path(cfg.backend.cache).expanduser().is_absolute():
        cfg.backend.cache = str(base / cfg.backend.cache)
    return cfg


def check_data_source(cfg: RunConfig, where: str = "config") -> None:
    """A dataset file that does not exist is an error saying where it was looked for and how to get it."""
    src = cfg.dataset.source
    if not _is_file_source(src) or Path(src).expanduser().exists():
        return
    hub = HUB_SOURCES.get((cfg.dataset.format or "").replace("-", "_").lower())
    how = (f"download it there, or read it from the Hugging Face Hub (needs pip install 'profile-align[hub]'): "
           f"--set dataset.source={hub}" if hub else
           "put the file there or set dataset.source (e.g. --set dataset.source=PATH); "
           "`profile-align datasets` lists the shipped sets")
    raise ConfigError(f"{where}: dataset.source {src}: no such file (relative paths are read against the "
                      f"config's folder)\n{how}")


def load_config(source: str | Path | dict[str, Any] | RunConfig, overrides: list[str] | None = None) -> RunConfig:
    """A :class:`RunConfig` from a YAML file path, a dict or a RunConfig, with ``KEY=VALUE`` overrides.
    Relative input paths of a YAML file are resolved against the file's folder."""
    if isinstance(source, RunConfig):
        if not overrides:
            return source
        source = source.model_dump(mode="json")
    where, base = "config", None
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise ConfigError(f"config file not found: {p}")
        where, base = str(p), p.parent
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from e
    else:
        data = source
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    data = apply_overrides(data, overrides)
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        lines = [f"{where}: invalid config"]
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"])
            lines.append(f"  {loc}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
    return _resolve_paths(cfg, base) if base is not None else cfg
