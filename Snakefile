# robustsweep: reproducible image-classification robustness studies.
# Entry point only: config, validation, includes and the final targets.
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, f"{workflow.basedir}/workflow")

from robustsweep.atomic_output import check_output_folder
from robustsweep.input_errors import ConfigError
from robustsweep.study_config import validate_config


report: "workflow/report/workflow.rst"


# The embedded default study, unless --configfile names a study: Snakemake would otherwise
# merge the study into the default and keep the default's models and experiments.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


try:
    config = validate_config(config)
    check_output_folder(config["results"])
except ConfigError as error:
    sys.exit(f"robustsweep config error: {error}")


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
        final_outputs(),
