"""Stage 5: what a researcher reads. `metric_table.py` collects every run's metric rows into
one tidy table; `tables/` pivots it into the papers' tables (tables.md), one module per table
section (each registered in `TABLES`); `figures/` holds one module per seaborn figure (each
registered in `FIGURES`); `mistake_explanations.py` draws Grad-CAM,
Guided Backprop and Guided Grad-CAM panels of a model's most confident natural adversarial
mistakes, with the maps themselves in `class_activation_maps.py`."""
