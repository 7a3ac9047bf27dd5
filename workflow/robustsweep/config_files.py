"""The study's config files read strictly, before Snakemake's merged config is validated.

YAML keeps the later of two equal keys in one mapping without a word, so a study that opens
`training:` twice silently loses the first block (its lr and restart_epochs, say). Snakemake
has already loaded the files; here each is composed again (PyYAML's node tree, which keeps
every key and its line) and a repeated key stops the study with both line numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from robustsweep.config_schema import config_key
from robustsweep.input_errors import ConfigError


def check_config_files(paths: Iterable[str | Path]) -> None:
    """Refuse a key given twice in the same mapping of any of the files."""
    for path in paths:
        try:
            root = yaml.compose(Path(path).read_text(), Loader=yaml.SafeLoader)
        except (OSError, yaml.YAMLError):
            continue  # Snakemake itself reports files it cannot read or parse
        _check_node(root, (), Path(path))


def _check_node(node: yaml.Node | None, where: tuple, path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
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
