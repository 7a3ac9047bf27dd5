"""envs/ (for --use-conda) and pyproject.toml (the pip path) must name the same packages."""

import re
import tomllib

import yaml

from conftest import REPO

CONDA_TO_PYPI = {"pytorch": "torch"}


def lower_bounds(requirements: list[str]) -> dict[str, str]:
    """name -> minimum version ('' when unbounded) for requirement strings."""
    bounds = {}
    for requirement in requirements:
        name = re.split(r"[<>=!~ ]", requirement, maxsplit=1)[0].strip().lower()
        found = re.search(r">=\s*([\w.]+)", requirement)
        bounds[CONDA_TO_PYPI.get(name, name)] = found.group(1) if found else ""
    return bounds


def test_conda_env_matches_pyproject():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = lower_bounds(pyproject["project"]["dependencies"])
    env = yaml.safe_load((REPO / "envs" / "robustsweep.yaml").read_text())
    conda = [
        d for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))
    ]
    post_deploy = (REPO / "envs" / "robustsweep.post-deploy.sh").read_text()
    pip_only = re.findall(r'pip install --no-deps "([^"]+)"', post_deploy)
    assert lower_bounds(conda + pip_only) == wanted


def test_lock_keeps_patched_requests_despite_torchattacks_pin():
    lock = (REPO / "requirements.lock").read_text()
    version = re.search(r"^requests==([\d.]+)", lock, re.M).group(1)
    assert tuple(int(part) for part in version.split(".")[:2]) >= (2, 32)
    assert re.search(r"^torchattacks==", lock, re.M)
    assert not re.search(r"^torch==2\.13\.0$", lock, re.M)
