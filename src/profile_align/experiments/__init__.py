"""Using the factors (PROFILE section 6) and the generation-vs-evaluation paradox (section 7).

Each experiment is a function here and a subcommand of ``profile-align``; results go to
``RUN_DIR/experiments/<name>/``.
"""

from .paradox import ParadoxResult, run_paradox

__all__ = ["ParadoxResult", "run_paradox"]
