"""One word per concept: names retired by issue #32 stay out of the code, rules and studies.

Each retired name was a second word for a concept that has one now (the config's word): N is
`train_classes`, M `predicted_classes` (one value or a list of them), the model the stores
are crafted on and that mines natural adversarial images is the `surrogate`. Old config keys
are refused by the schema itself (test_study_config.py, test_reproduction.py); this guard
catches the code-level spellings a merge or a new module could bring back.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# retired name -> the name that replaced it
RETIRED = {
    "n_train_classes": "train_classes",
    "m_classes": "predicted_classes",
    "m_values": "predicted_classes",
    "restricted_m": "restricted_predicted_classes",
    "support_run": "surrogate_run",
    "support_runs": "surrogate_runs",
    "weights_source": "pretrained_weights",
    "whitebox": "white_box",
}
# (file, retired name) pairs that name the old word on purpose
ALLOWED = {
    # the refusal of the old keys names them
    ("workflow/robustsweep/config_schema.py", "n_train_classes"),
    ("workflow/robustsweep/config_schema.py", "m_classes"),
    # model cards written before the rename still load
    ("workflow/robustsweep/models/trained_models.py", "weights_source"),
}
SCANNED = (
    "workflow/**/*.py",
    "workflow/**/*.yaml",
    "rules/*.smk",
    "Snakefile",
    "studies/**/*.yaml",
    "config.yaml",
    "benchmarks/*.py",
    "profiles/**/*.yaml",
)


def retired_names_in(root: Path, patterns: tuple[str, ...]) -> list[str]:
    """'path:line: old (now new)' for each retired name found under `root`."""
    found = []
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, RETIRED)) + r")\b")
    for glob in patterns:
        for path in sorted(root.glob(glob)):
            relative = path.relative_to(root).as_posix()
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for old in pattern.findall(line):
                    if (relative, old) not in ALLOWED:
                        found.append(f"{relative}:{number}: {old} (now {RETIRED[old]})")
    return found


def test_no_retired_name_is_back():
    assert retired_names_in(REPO, SCANNED) == []


def test_the_guard_finds_a_planted_retired_name(tmp_path):
    """Negative control: a retired name in a scanned file is reported, with its new name;
    the same name where it is allowed, or inside a longer word, is not."""
    (tmp_path / "workflow" / "robustsweep").mkdir(parents=True)
    (tmp_path / "workflow" / "robustsweep" / "planted.py").write_text(
        "rows = metrics[metrics.m_classes == 4]\nkeep = mm_classes_total\n"
    )
    (tmp_path / "workflow" / "robustsweep" / "config_schema.py").write_text('"m_classes"\n')
    assert retired_names_in(tmp_path, SCANNED) == [
        "workflow/robustsweep/planted.py:1: m_classes (now predicted_classes)"
    ]
