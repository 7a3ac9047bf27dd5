"""Command line of the pipeline stages: `python -m robustsweep <stage> ...`.

Each Snakemake rule makes exactly one of these calls. Structured settings (a model spec, an
attack spec, the training recipe) travel as JSON strings so the rule's `params` and the call
see the same values, and a change to them is what triggers Snakemake's rerun.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from robustsweep.input_errors import InputError


def _json(text: str):
    return json.loads(text)


def _named_paths(items: list[str]) -> dict[str, Path]:
    """`name=path` pairs (attack stores) to a dict."""
    pairs = dict(item.split("=", 1) for item in items)
    return {name: Path(path) for name, path in pairs.items()}


def cmd_prepare(args) -> None:
    from robustsweep.prepared_dataset import prepare_dataset

    prepare_dataset(args.output, args.dataset, args.seed)


def cmd_subset(args) -> None:
    from robustsweep.class_subsets import write_subset
    from robustsweep.prepared_dataset import load_class_names

    names = load_class_names(args.dataset)
    write_subset(args.output, range(len(names)), names, args.n, args.study_seed, args.draw_seed)


def cmd_train(args) -> None:
    from robustsweep.compute_device import configure_threads, select_device
    from robustsweep.training import Recipe, train_run

    configure_threads(args.threads)
    model = dict(args.model)
    architecture = model.pop("architecture")
    if model.get("pretrained"):  # published weights: fetched, not trained
        from robustsweep.pretrained_weights import export_pretrained

        export_pretrained(
            args.weights, args.epoch_log, args.dataset, args.subset, architecture, model
        )
        return
    train_run(
        args.weights,
        args.epoch_log,
        args.dataset,
        args.subset,
        architecture,
        model,
        Recipe(**args.recipe),
        args.defence,
        _named_paths(args.store),
        args.seed,
        select_device(args.device),
        args.clean_copy,
    )


def cmd_store(args) -> None:
    from robustsweep.adversarial_store import generate_store
    from robustsweep.compute_device import configure_threads, select_device

    configure_threads(args.threads)
    generate_store(
        args.output,
        args.dataset,
        args.split,
        args.source,
        args.attack,
        args.spec,
        args.batch_size,
        args.seed,
        select_device(args.device),
    )


def cmd_mine(args) -> None:
    from robustsweep.compute_device import configure_threads, select_device
    from robustsweep.natural_adversarial import mine_natural_adversarial

    configure_threads(args.threads)
    mine_natural_adversarial(
        args.output,
        args.dataset,
        args.reference,
        args.patterns,
        args.severity,
        args.variants,
        args.seed,
        select_device(args.device),
        args.max_confidence,
    )


def cmd_natural_index(args) -> None:
    from robustsweep.natural_adversarial import index_natural_folder

    index_natural_folder(args.output, args.dataset, args.root, args.name)


def cmd_logits(args) -> None:
    from robustsweep.compute_device import configure_threads, select_device
    from robustsweep.logits_cache import compute_logits

    configure_threads(args.threads)
    compute_logits(
        args.output,
        args.weights,
        args.dataset,
        args.natural,
        _named_paths(args.store),
        select_device(args.device),
        args.white_box,
        args.attack_batch_size,
        args.seed,
        args.masking,
    )


def cmd_evaluate(args) -> None:
    from robustsweep.evaluation import evaluate_run

    evaluate_run(
        args.output,
        args.logits,
        args.run,
        args.m_values,
        args.trials,
        args.seed,
        args.hybrid_fractions,
    )


def cmd_collect(args) -> None:
    from robustsweep.paper_tables import collect_metrics

    collect_metrics(args.output, args.inputs)


def cmd_tables(args) -> None:
    from robustsweep.paper_tables import write_tables

    write_tables(args.metrics, args.output, args.pool_size)


def cmd_figure(args) -> None:
    from robustsweep.figures import draw_figure

    draw_figure(args.kind, args.metrics, args.output, args.style)


def cmd_explain(args) -> None:
    from robustsweep.mistake_explanations import draw_explanations

    draw_explanations(
        args.output, args.weights, args.logits, args.natural, args.dataset, args.top_k, args.style
    )


def cmd_record(args) -> None:
    from robustsweep.provenance import write_study_record

    write_study_record(args.output, args.config, args.commit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robustsweep", description=__doc__)
    sub = parser.add_subparsers(dest="stage", required=True)
    compute = argparse.ArgumentParser(add_help=False)
    compute.add_argument("--device", default="auto")
    compute.add_argument("--threads", type=int, default=1)

    p = sub.add_parser("prepare", help="dataset source -> HDF5 with splits")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--dataset", type=_json, required=True, help="the config's dataset mapping")
    p.add_argument("--seed", type=int, required=True)
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("subset", help="seeded choice of N classes")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--study-seed", type=int, required=True)
    p.add_argument("--draw-seed", type=int, required=True)
    p.set_defaults(func=cmd_subset)

    p = sub.add_parser("train", parents=[compute], help="train one (model, N, seed, defence)")
    for name in ("weights", "epoch-log", "dataset", "subset"):
        p.add_argument(f"--{name}", type=Path, required=True)
    for name in ("model", "recipe", "defence"):
        p.add_argument(f"--{name}", type=_json, required=True)
    p.add_argument("--store", nargs="*", default=[], help="attack=path of train-split stores")
    p.add_argument("--clean-copy", type=Path, help="weights of the run's standard twin")
    p.add_argument("--seed", type=int, required=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("store", parents=[compute], help="attack a split into an HDF5 store")
    for name in ("output", "dataset", "source"):
        p.add_argument(f"--{name}", type=Path, required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--attack", required=True)
    p.add_argument("--spec", type=_json, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.set_defaults(func=cmd_store)

    p = sub.add_parser("mine", parents=[compute], help="mine natural adversarial examples")
    for name in ("output", "dataset", "reference"):
        p.add_argument(f"--{name}", type=Path, required=True)
    p.add_argument("--patterns", nargs="+", required=True)
    p.add_argument("--severity", type=float, required=True)
    p.add_argument("--variants", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--max-confidence", type=float, default=1.0, help="keep only mistakes below")
    p.set_defaults(func=cmd_mine)

    p = sub.add_parser("natural-index", help="index a natural adversarial folder (ImageNet-A)")
    for name in ("output", "dataset", "root"):
        p.add_argument(f"--{name}", type=Path, required=True)
    p.add_argument("--name", required=True, help="the set's name in the pattern column")
    p.set_defaults(func=cmd_natural_index)

    p = sub.add_parser("logits", parents=[compute], help="cache logits over every test set")
    for name in ("output", "weights", "dataset", "natural"):
        p.add_argument(f"--{name}", type=Path, required=True)
    p.add_argument("--store", nargs="*", default=[], help="attack=path of test-split stores")
    p.add_argument("--white-box", type=_json, default={}, help="attack name -> spec (JSON)")
    p.add_argument("--attack-batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0, help="seeds the white-box attacks")
    p.add_argument("--masking", type=_json, default=None, help="gradient-masking checks (JSON)")
    p.set_defaults(func=cmd_logits)

    p = sub.add_parser("evaluate", help="metrics over M predicted classes from cached logits")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--logits", type=Path, required=True)
    p.add_argument("--run", type=_json, required=True)
    p.add_argument("--m-values", type=int, nargs="*", default=[])
    p.add_argument("--trials", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--hybrid-fractions", type=float, nargs="*", default=[])
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("collect", help="concatenate per-run metric tables")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("inputs", type=Path, nargs="+")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("tables", help="paper-style Markdown tables")
    p.add_argument("--metrics", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--pool-size", type=int, required=True)
    p.set_defaults(func=cmd_tables)

    p = sub.add_parser("figure", help="one seaborn figure")
    p.add_argument("kind")
    p.add_argument("--metrics", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--style", type=_json, required=True)
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("explain", help="Grad-CAM panels of a model's most confident mistakes")
    for name in ("output", "weights", "logits", "natural", "dataset"):
        p.add_argument(f"--{name}", type=Path, required=True)
    p.add_argument("--top-k", type=int, required=True)
    p.add_argument("--style", type=_json, required=True)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("record", help="resolved config, package versions and git commit")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--config", type=_json, required=True)
    p.add_argument("--commit", required=True)
    p.set_defaults(func=cmd_record)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (InputError, FileNotFoundError) as error:
        # Problems with inputs get one line naming the file and the fix; bugs keep tracebacks.
        print(f"robustsweep {args.stage}: {error}", file=sys.stderr)
        return 1
    return 0
