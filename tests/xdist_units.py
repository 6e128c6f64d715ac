"""How the tests are shared among pytest-xdist's workers (`make test` runs several; see the Makefile).

A worker takes a *unit* of tests at a time, and tests that share something costly must be one unit, or
every worker would build it again: a module's long trial (the hub, the culling trial), its TensorFlow
probes, its wheel, or its notebook open in one frontend (the module-scoped ``notebook`` fixture). All
other tests are units of one. The units are told apart by test id alone, since pytest-xdist's scheduler
runs where no test is collected (its own ``xdist_group`` mark relies on rewriting test ids, which
pytest 9.2 no longer allows). The long units come first, so that they run beside all the others.
"""

from __future__ import annotations

import re

# Modules whose tests form one unit, longest first: each shares a module-scoped trial or build.
WHOLE_MODULES = ("tests/test_hub.py", "tests/test_culling.py", "tests/test_gpu.py", "tests/test_packaging.py")
# Modules whose tests share a notebook per frontend (the ``notebook`` fixture): one unit per frontend.
NOTEBOOK_PER_FRONTEND = ("tests/test_browser.py", "tests/test_badge.py", "tests/test_saved_notebook.py")
_FRONTEND = re.compile(r"\[(jupyterlab|notebook|nbclassic)\]$")


def unit(nodeid: str) -> str:
    """The unit of the test ``nodeid``."""
    module, _, name = nodeid.partition("::")
    if module in WHOLE_MODULES:
        return module
    frontend = _FRONTEND.search(name)
    if module in NOTEBOOK_PER_FRONTEND and frontend:
        return f"{module}[{frontend.group(1)}]"
    return nodeid


def pytest_collection_modifyitems(items):
    """The whole modules first, in the order above; the rest keep their order (a stable sort)."""
    first = {module: n for n, module in enumerate(WHOLE_MODULES)}
    items.sort(key=lambda item: first.get(item.nodeid.partition("::")[0], len(first)))


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        """pytest-xdist's scheduling by scope, with this module's units as the scopes."""

        def _split_scope(self, nodeid: str) -> str:
            return unit(nodeid)

    # Keep the order above: recent pytest-xdist would otherwise sort the units by their number of tests.
    config.option.loadscopereorder = False
    return Units(config, log)
