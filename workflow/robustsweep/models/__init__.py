"""Models: the architectures a study can name (`architectures/`, one module per family, each
registered in `ARCHITECTURES`), trained weights on disk as self-describing safetensors
(`trained_models.py`), published ImageNet weights fetched into a run (`pretrained_weights.py`)
and the one place images become model inputs and logits (`inference.py`: uint8 to [0, 1]
floats, batched forward passes, rounding attacked images back to uint8)."""
