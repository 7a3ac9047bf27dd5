"""The names of the sets a run is scored on and of the attacked sets' origins, written once:
the `test_set` column of every metric table, the HDF5 groups of the logits and white-box
files, the attack table's `origin` column.

A leaf module apart from results_layout.py (the paths): the evaluation and reporting jobs
import these names, and a job's code digest covers every module it imports
(code_digest.py), so a new path in the layout reruns no white-box attack.
"""

from __future__ import annotations

# -- test sets: the `test_set` column of the metrics and the logits files' group names --

CLEAN = "clean"  # the test split
NATURAL = "natural"  # the natural adversarial set
CORRUPTED = "corrupted"  # the corrupted test split (corruptions.source)
TRANSFER_PREFIX = "attack-"  # a stored attack: transfer from the surrogate
WHITE_BOX_PREFIX = "white_box-"  # an attack on the run's own model (evaluation.white_box)
HYBRID_PREFIX = "hybrid-"  # ho2024's mixture of one stored attack with clean images
MIXTURE_PREFIX = "mix-"  # a named mixture of evaluation.mixtures
BUDGET_PREFIX = "budget-"  # the budget sweep's attack (evaluation.budget_sweep)
WORST_PREFIX = "worst-"  # per image, right under every attack of a group
WORST_WHITE_BOX = "worst-white_box"  # ... of the run's white-box attacks
WORST_STORE = "worst-store"  # ... of the stored (transfer) attacks
WORST_ALL = "worst-all"  # ... of both
ATTACKED_PREFIXES = (TRANSFER_PREFIX, WHITE_BOX_PREFIX)
RESTRICTED = "@m"  # joins a white-box set's name and the (M, trial) it attacked restricted


def transfer_set(attack: str) -> str:
    return TRANSFER_PREFIX + attack


def white_box_set(attack: str) -> str:
    return WHITE_BOX_PREFIX + attack


def hybrid_set(attack: str, fraction: float) -> str:
    """ho2024's mixture of `fraction` adversarial images from one stored attack."""
    return f"{HYBRID_PREFIX}{attack.removeprefix(TRANSFER_PREFIX)}-{fraction * 100:g}pct"


def mixture_set(name: str) -> str:
    return MIXTURE_PREFIX + name


def budget_set(attack: str) -> str:
    return BUDGET_PREFIX + attack


def restricted_set(attack: str, m: int, trial: int) -> str:
    """The group of the white-box attack on the M-restricted classifier of one trial."""
    return f"{white_box_set(attack)}{RESTRICTED}{m}-trial{trial}"


# -- attacked sets: the `origin` of a store and of a white-box set (the attack table's column) --

STORE_SET = "store"  # crafted on the surrogate, per split (store/)
WHITE_BOX_SET = "white_box"  # a run's model attacked itself, test split (<run>/white_box/)


def attacked_test_set(origin: str, attack: str) -> str:
    """The test set an attacked set of `origin` is scored as."""
    return white_box_set(attack) if origin == WHITE_BOX_SET else transfer_set(attack)


def parse_restricted(name: str) -> tuple[str, int, int] | None:
    """(test set, M, trial) of a restricted group's name; None for any other set."""
    if RESTRICTED not in name:
        return None
    test_set, rest = name.split(RESTRICTED)
    m, trial = rest.split("-trial")
    return test_set, int(m), int(trial)
