"""Using the factors (PROFILE section 6) and the generation-vs-evaluation paradox (section 7).

Each experiment is a function here and a subcommand of ``profile-align``; results go to
``RUN_DIR/experiments/<name>/``.
"""

from .generalize import GeneralizeResult, run_generalize
from .guide import GuideResult, run_guide
from .human_check import export_form, import_answers
from .improve import ImproveResult, run_improve
from .paradox import ParadoxResult, run_paradox

__all__ = ["GuideResult", "run_guide", "ImproveResult", "run_improve", "GeneralizeResult", "run_generalize",
           "ParadoxResult", "run_paradox", "export_form", "import_answers"]
