"""Stage 4: evaluation. `logits_cache.py` runs each trained model once over the clean, natural
adversarial and transfer-attack test sets (and measures gradient masking); `white_box.py`
attacks each model itself, one job per (run, attack); `run_evaluation.py` derives every metric
of every M and trial from those cached logits without another forward pass, with the metric
definitions in `classification_metrics.py` and the masking checks in `gradient_masking.py`."""
