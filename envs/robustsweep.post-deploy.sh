#!/usr/bin/env bash
# Snakemake runs this once after creating envs/robustsweep.yaml (its post-deploy hook).
# torchattacks is not on conda-forge. --no-deps keeps its pin requests~=2.25.1 (a release with
# known CVEs) from downgrading the patched requests the environment already has; its real
# dependencies (torch, torchvision, scipy, tqdm, requests) are in the yaml. Likewise
# imagecorruptions-imaug (generated corruption test sets), whose pip dependencies would add the
# GUI opencv-python beside the environment's OpenCV; its real dependencies (numpy, scipy,
# scikit-image, numba, pillow, opencv) are in the yaml.
set -euo pipefail
python -m pip install --no-deps "torchattacks>=3.5.1"
python -m pip install --no-deps "imagecorruptions-imaug>=1.1.5"
