"""The test sets a study's runs are evaluated on, as the `test_set` column of the metrics
spells them (the names themselves: set_names.py).

`clean` (the test split) and `natural` (the natural adversarial set) always; `attack-<name>`
for every stored attack (transfer from the surrogate); `white_box-<name>` for every attack
under `evaluation.white_box`; `hybrid-<attack>-<p>pct` for every stored attack and fraction of
`evaluation.hybrid_fractions` (ho2024's mixtures); `mix-<name>` for every named mixture of
`evaluation.mixtures` (tan2022's mixed test set); `corrupted` when the study has a
`corruptions` source (xu2024's CIFAR-10-C). A white-box file's attack on the M-restricted
classifier of one trial is the group `white_box-<name>@m<M>-trial<t>`, scored as
`white_box-<name>` at that (M, trial) (evaluation.white_box_below_n: restricted). Torch- and
numpy-free: the config validation checks paper-number files against these names before any
job.
"""

from __future__ import annotations

from robustsweep.set_names import (
    CLEAN,
    CORRUPTED,
    NATURAL,
    hybrid_set,
    mixture_set,
    transfer_set,
    white_box_set,
)


def configured_test_sets(config: dict) -> list[str]:
    """Every test set a validated config's runs are scored on, in a stable order."""
    attacks = list(config["attacks"]["methods"])
    evaluation = config["evaluation"]
    return [
        CLEAN,
        NATURAL,
        *(transfer_set(name) for name in attacks),
        *(white_box_set(name) for name in evaluation["white_box"]),
        *(hybrid_set(a, f) for a in attacks for f in evaluation["hybrid_fractions"]),
        *(mixture_set(name) for name in evaluation["mixtures"]),
        *([CORRUPTED] if config.get("corruptions", {}).get("source") else []),
    ]


# metrics.csv column white_box_head: which classifier a white-box row's attack was made on
ATTACKED = "attacked"  # the classifier scored (M = N: the run's N-way head)
RESTRICTED_HEAD = "restricted"  # the M-restricted classifier of the row's trial
N_WAY_TRANSFER = "n_way_transfer"  # the N-way head, scored at M < N: transfer
