"""robustsweep: reproducible image-classification robustness studies.

The package holds all logic; Snakemake rules only wire files to the functions here.
Importing the package must stay cheap (no torch) because the Snakefile imports it to plan jobs.
"""

__version__ = "0.1.0"
