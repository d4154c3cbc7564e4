"""The end-to-end PROFILE run: config -> judges -> factors -> statistics -> run directory."""

from .config import ConfigError, RunConfig, load_config
from .run import RunResult, run, sample_dataset
from .summary import print_summary

__all__ = ["run", "RunResult", "RunConfig", "load_config", "ConfigError", "sample_dataset", "print_summary"]
