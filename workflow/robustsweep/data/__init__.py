"""Stage 1: the study's data. `sources/` holds one module per dataset source (each registered
in `DATASET_SOURCES`); `prepared_dataset.py` turns a source into one HDF5 file with disjoint
train/test/pool splits (pixels, or a file index for ImageNet-scale trees read through
`image_files.py`); `class_subsets.py` draws the N classes of each run; `patterns/` holds
zhu2025's natural patterns (one module per pattern, registered in `NATURAL_PATTERNS`) and
`natural_adversarial.py` mines a natural adversarial test set with them, or indexes one on
disk (ImageNet-A); `imagenet_classes.py` knows ImageNet's class lists."""
