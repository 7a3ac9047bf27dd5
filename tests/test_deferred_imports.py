"""The CLI's deferred scipy.stats: a job that never reads it never imports it; one that does
gets the real module."""

import subprocess
import sys

import pytest

from robustsweep.deferred_imports import DeferredModule, defer, load

CHECK = """
import sys
from robustsweep.deferred_imports import defer
defer("scipy.stats")
import torch, torchattacks  # torchattacks' TIFGSM does `from scipy import stats`
assert "scipy.stats._stats_py" not in sys.modules, "importing torchattacks loaded scipy.stats"
attack = torchattacks.TIFGSM(torch.nn.Linear(2, 2))  # reads scipy.stats: now it loads
from scipy.stats import norm
assert type(sys.modules["scipy.stats"]).__name__ == "module"
print(float(norm.pdf(0.0)))
"""


def test_torchattacks_import_does_not_load_scipy_stats_until_used():
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    # float64 on both sides: the pdf at 0 printed with 16 digits
    assert float(result.stdout) == pytest.approx(0.3989422804014327, abs=1e-15)


def test_stand_in_loads_the_real_module_on_first_attribute(monkeypatch):
    monkeypatch.delitem(sys.modules, "json.tool", raising=False)
    defer("json.tool")
    stand_in = sys.modules["json.tool"]
    assert isinstance(stand_in, DeferredModule)
    assert stand_in.__file__.endswith("tool.py")  # introspection does not load it
    assert not hasattr(stand_in, "__wrapped__")
    assert callable(stand_in.main)  # an attribute: the real module, answered through
    assert not isinstance(sys.modules["json.tool"], DeferredModule)
    assert load("json.tool") is sys.modules["json.tool"]
    defer("json.tool")  # already imported: left alone
    assert not isinstance(sys.modules["json.tool"], DeferredModule)
