# robustsweep: reproducible image-classification robustness studies.
# Entry point only: config, validation, includes and the final targets.
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, f"{workflow.basedir}/workflow")

from robustsweep.config_files import check_config_files
from robustsweep.input_errors import ConfigError, InputError
from robustsweep.results_folder import check_results_folder, lock_results_folder
from robustsweep.study_config import validate_config


report: "workflow/report/workflow.rst"


# The embedded default study, unless --configfile names a study: Snakemake would otherwise
# merge the study into the default and keep the default's models and experiments.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


try:
    # YAML keeps the later of two equal keys silently: read the files again, strictly
    check_config_files(
        workflow.overwrite_configfiles or [f"{workflow.basedir}/config.yaml"]
    )
    config = validate_config(config)
    check_results_folder(config["results"], workflow.basedir)
except ConfigError as error:
    sys.exit(f"robustsweep config error: {error}")


# One writer per results folder: taken when jobs are about to run (not in dry runs, not in
# cluster jobs, which run with --no-hooks), held until this Snakemake ends. A GPU `device`
# is checked here too when the jobs run on this machine (the executor is known only now).
onstart:
    if workflow.local_exec:
        from robustsweep.compute_device import check_device_here

        try:
            check_device_here(config["device"])
        except InputError as error:
            sys.exit(f"robustsweep config error: {error}")
    try:
        lock_results_folder(config["results"], workflow.basedir)
    except ConfigError as error:
        sys.exit(f"robustsweep: {error}")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/natural_adversarial.smk"
include: "rules/class_subsets.smk"
include: "rules/adversarial_store.smk"
include: "rules/training.smk"
include: "rules/evaluation.smk"
include: "rules/reporting.smk"


rule all:
    default_target: True
    input:
        study.final_outputs(),
