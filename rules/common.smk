# What the rules share: the study's rule arguments (robustsweep/rule_arguments.py: every path,
# job-dependent input and tracked param, one call each) and the one command every rule runs,
# `python -m robustsweep <stage> '<settings JSON>' '<job JSON>' <log>` (cli.py).
import shlex

from robustsweep import results_layout as layout
from robustsweep.rule_arguments import StudyRules

ENV = "../envs/robustsweep.yaml"
study = StudyRules(config)
# Every rule runs `python -m robustsweep <stage>`; the package is found through PYTHONPATH, set
# in front of each shell command, so a plain clone or a --use-conda environment works as is.
shell.prefix(
    "set -euo pipefail; export PYTHONPATH={}; ".format(
        shlex.quote(f"{workflow.basedir}/workflow")
    )
)


wildcard_constraints:
    **layout.WILDCARDS,
    figure=study.figure_pattern(),
