"""What each file of the results folder is made for: the identity its writer seals it with
and its readers check (file_identity.py), planned from the config before any job runs.

An identity names the file's kind, what it is made for (its run, attack, shard), the sha256
of its job's settings (job_settings.py: the tracked settings JSON) and, for pixels, the image
size. The paths are read back with the regexes of results_layout.py's templates.

Torch-free, because the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from robustsweep import results_layout as layout
from robustsweep.file_identity import sha256_text
from robustsweep.job_settings import (
    budget_sweep_settings,
    corruption_settings,
    logits_settings,
    natural_settings,
    prepare_settings,
    store_settings,
    subset_settings,
    train_settings,
    white_box_settings,
)
from robustsweep.run_grid import Run


def _run_of(match: re.Match) -> Run:
    return Run(match["model"], int(match["n"]), int(match["draw"]), match["defence"])


def _image_size(config: dict) -> int:
    return config["dataset"]["image_size"]


Identity = Callable[[dict, re.Match], dict]

# either of a run's two weights files: the selected checkpoint's and the last epoch's
_WEIGHTS = {"weights": "|".join(map(re.escape, (layout.WEIGHTS, layout.LAST_WEIGHTS)))}

# a file's path in the results folder (a regex) -> the identity it carries
PLANNED_FILES: dict[str, Identity] = {
    layout.pattern(layout.DATASET): lambda c, m: {
        "kind": "dataset",
        "settings_sha256": sha256_text(prepare_settings(c)),
        "image_size": _image_size(c),
    },
    layout.pattern(layout.NATURAL_ADVERSARIAL): lambda c, m: {
        "kind": "natural_adversarial",
        "settings_sha256": sha256_text(natural_settings(c)),
        "image_size": _image_size(c),
    },
    layout.pattern(layout.CORRUPTIONS): lambda c, m: {
        "kind": "corruptions",
        "settings_sha256": sha256_text(corruption_settings(c)),
        "image_size": _image_size(c),
    },
    layout.pattern(layout.SUBSET): lambda c, m: {
        "kind": "subset",
        "settings_sha256": sha256_text(subset_settings(c, int(m["n"]), int(m["draw"]))),
    },
    layout.pattern(layout.STORE): lambda c, m: {
        "kind": "store",
        "split": m["split"],
        "attack": m["attack"],
        "settings_sha256": sha256_text(store_settings(c, m["split"], m["attack"])),
        "image_size": _image_size(c),
    },
    layout.pattern(layout.run_file("{weights}"), _WEIGHTS): lambda c, m: {
        "kind": "weights",
        "run": _run_of(m).folder,
        "settings_sha256": sha256_text(train_settings(c, _run_of(m))),
        "image_size": _image_size(c),
    },
    layout.pattern(layout.run_file(layout.LOGITS)): lambda c, m: {
        "kind": "logits",
        "run": _run_of(m).folder,
        "settings_sha256": sha256_text(logits_settings(c)),
    },
    layout.pattern(layout.run_file(layout.WHITE_BOX_SHARD)): lambda c, m: {
        "kind": "white_box_shard",
        "run": _run_of(m).folder,
        "attack": m["attack"],
        "shard": int(m["shard"]),
        "shards": int(m["shards"]),
        "settings_sha256": sha256_text(white_box_settings(c, m["attack"])),
    },
    layout.pattern(layout.run_file(layout.WHITE_BOX)): lambda c, m: {
        "kind": "white_box",
        "run": _run_of(m).folder,
        "attack": m["attack"],
        "settings_sha256": sha256_text(white_box_settings(c, m["attack"], _run_of(m))),
    },
    layout.pattern(layout.run_file(layout.BUDGET_SWEEP)): lambda c, m: {
        "kind": "budget_sweep",
        "run": _run_of(m).folder,
        "settings_sha256": sha256_text(budget_sweep_settings(c)),
    },
}


def planned_identity(config: dict, path: str) -> dict | None:
    """The identity the file at `path` (as the rules spell it, under `results`) must carry;
    None for files without one (tables, figures, logs)."""
    prefix = config["results"].rstrip("/") + "/"
    if not path.startswith(prefix):
        return None
    relative = path[len(prefix) :]
    for pattern, identity in PLANNED_FILES.items():
        if match := re.fullmatch(pattern, relative):
            return identity(config, match)
    return None


def job_identities(config: dict, inputs: dict, outputs: dict) -> dict:
    """The job JSON's `expect` (input name, or group and key, -> identity the input must
    carry) and `identity` (output path -> identity its writer seals it with)."""
    expect: dict = {}
    for name, path in inputs.items():
        if not isinstance(path, str) or (identity := planned_identity(config, path)) is None:
            continue
        group, _, key = name.partition("__")
        if key:
            expect.setdefault(group, {})[key] = identity
        else:
            expect[name] = identity
    made = {
        path: identity
        for path in outputs.values()
        if isinstance(path, str) and (identity := planned_identity(config, path)) is not None
    }
    return {"expect": expect, "identity": made}
