"""The study's config files read strictly: plain data, every key once.

A study file is data that users share, so nothing in it may run code. Snakemake would run
some: a file with `__use_yte__: true` at its top is a YTE template whose `?`-values are Python
expressions, evaluated when Snakemake loads the file (dry runs included), and its YAML loader
builds `!!python/...` tags (or fails on them with a message about tabs). Snakemake loads every
`--configfile` before it reads the Snakefile, so the one place that runs earlier is a profile:
the workflow profiles (profiles/default, used automatically, and profiles/slurm) call
`refuse_code_in_config_files` while Snakemake reads them, before any config file is loaded.
The Snakefile calls `check_config_files` again, for runs without those profiles (there it
comes after Snakemake has loaded the files: too late to stop an expression, not too late to
stop the study).

YAML also keeps the later of two equal keys in one mapping without a word, so a study that
opens `training:` twice silently loses the first block (its lr and restart_epochs, say). Each
file is composed again (PyYAML's node tree, which keeps every key, tag and line) and a
repeated key stops the study with both line numbers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from robustsweep.config_schema import config_key
from robustsweep.input_errors import ConfigError

# the key that turns a YAML file into a YTE template for Snakemake
YTE_KEY = "__use_yte__"
# the tags plain data needs: what PyYAML's safe loader builds (str, int, float, map, ...) and
# the merge key `<<`
PLAIN_TAGS = frozenset(
    [*(tag for tag in yaml.SafeLoader.yaml_constructors if tag), "tag:yaml.org,2002:merge"]
)


def refuse_code_in_config_files(argv: Sequence[str] | None = None) -> None:
    """Exit with one line if a `--configfile` of this Snakemake command line is missing,
    a YTE template or carries a Python tag; called from the workflow profiles."""
    import contextlib
    import io

    from snakemake.cli import get_argument_parser  # Snakemake's own reading of the options

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            arguments, _ = get_argument_parser().parse_known_args(
                sys.argv[1:] if argv is None else argv
            )
    except SystemExit:  # not Snakemake's command line (its main() called from a program)
        return  # the Snakefile's check still runs
    try:
        check_config_files(arguments.configfile or [], missing_ok=False)
    except ConfigError as error:
        sys.exit(f"robustsweep config error: {error}")


def check_config_files(paths: Iterable[str | Path], missing_ok: bool = True) -> None:
    """Refuse a YTE template, a tag that is not plain data, or a key given twice in the same
    mapping of any of the files."""
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            if missing_ok:
                continue
            raise ConfigError(
                f"config file '{path}' not found (--configfile); give the path of a study "
                "YAML, e.g. studies/tan2022.yaml"
            ) from None
        except OSError:
            continue  # Snakemake itself reports files it cannot read
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            continue  # nor parse
        _check_templating(root, path)
        _check_node(root, (), path)


def _check_templating(root: yaml.Node | None, path: Path) -> None:
    if not isinstance(root, yaml.MappingNode):
        return
    for key_node, _ in root.value:
        if key_node.value == YTE_KEY:
            raise ConfigError(
                f"config file '{path}' sets '{YTE_KEY}' (line {key_node.start_mark.line + 1}), "
                "which would make Snakemake evaluate its ?-values as Python (YTE templating); "
                "a study file is data that others run, so robustsweep never evaluates one: "
                f"remove '{YTE_KEY}' and write the values out (computed by a script of your own, "
                "if they must be computed)"
            )


def _check_tag(node: yaml.Node, path: Path) -> None:
    if node.tag in PLAIN_TAGS:
        return
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    raise ConfigError(
        f"config file '{path}' line {node.start_mark.line + 1} carries the tag '{tag}', which "
        "asks YAML to build a Python object; a study file is plain data (mappings, lists, "
        "numbers, strings): remove the tag"
    )


def _check_node(node: yaml.Node | None, where: tuple, path: Path) -> None:
    if node is None:
        return
    _check_tag(node, path)
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            _check_tag(key_node, path)
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in lines:
                place = f"under '{config_key(where)}'" if where else "at the top level"
                raise ConfigError(
                    f"config file '{path}' gives key '{key}' twice {place} (lines {lines[key]} "
                    f"and {line}); YAML would keep only the second: merge them into one"
                )
            lines[key] = line
            _check_node(value_node, (*where, key), path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_node(item, (*where, index), path)
