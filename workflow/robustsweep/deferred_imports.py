"""Modules a job's libraries import but may never use, loaded on first use instead.

torchattacks' `__init__` imports every attack it ships, and one of them (TIFGSM) imports
scipy.stats at module level: about 1.8 s of every store, white-box, logits and online-attack
training job, none of which runs TIFGSM. `defer("scipy.stats")` puts a stand-in in
sys.modules; the first attribute read from it (`st.norm`, `from scipy.stats import t`)
imports the real module and answers from it, so a job that does use scipy.stats gets exactly
the real module, one that does not never pays for it.

The standard library's importlib.util.LazyLoader does not do this here: the import system
reads a module's `__spec__` when a second import statement names it, and that read loads a
LazyLoader module at once (Python 3.11), i.e. at TIFGSM's `from scipy import stats`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

# what the CLI defers in every job (cli.py): wiring, it computes nothing
DEFERRED = ("scipy.stats",)


class DeferredModule(types.ModuleType):
    """Stand-in for a module not imported yet: any attribute it lacks imports the real one.

    It carries the real module's spec, file and search path, so introspection that walks
    sys.modules (inspect.getmodule reads every module's `__file__`; torch does at import) and
    imports of its submodules do not load it; other dunders it lacks are absent, as they
    would be on most modules."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        spec = importlib.util.find_spec(name)
        self.__spec__, self.__loader__, self.__file__ = spec, spec.loader, spec.origin
        self.__package__ = (
            name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
        )
        if spec.submodule_search_locations is not None:
            self.__path__ = spec.submodule_search_locations

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(name)
        return getattr(load(self.__name__), name)


def load(name: str) -> types.ModuleType:
    """The real module `name`, imported now if only its stand-in is there."""
    if isinstance(sys.modules.get(name), DeferredModule):
        del sys.modules[name]
    return importlib.import_module(name)


def defer(*names: str) -> None:
    """Put stand-ins for `names` in sys.modules unless they are imported already (their
    parent packages are imported now, as an import of the module would)."""
    for name in names:
        if name not in sys.modules:
            parent = name.rpartition(".")[0]
            if parent:
                importlib.import_module(parent)
            sys.modules[name] = DeferredModule(name)
