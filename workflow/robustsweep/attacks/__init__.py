"""Stage 2: offline adversarial examples. `methods/` holds one module per attack method (each
registers itself in `ATTACK_METHODS`); `adversarial_store.py` attacks the surrogate over a
whole split once and writes every adversarial image with its provenance into HDF5
(`store_file.py` is that file's format), so training and evaluation sample from the store
instead of attacking online (tan2022, Fig. 3)."""
