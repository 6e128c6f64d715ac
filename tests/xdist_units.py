"""How the tests are shared among pytest-xdist's workers (`make test` runs several; see the Makefile).

A worker takes a *unit* of tests at a time, and tests that share something costly must be one unit, or
every worker would build it again: a module's long trial (the hub, the culling trial, a server stopped
and started again), its TensorFlow probes, its wheel, or its notebook page open in one frontend (the
module-scoped ``notebook`` and ``notebooks`` fixtures). All
other tests are units of one. The units are told apart by test id alone, since pytest-xdist's scheduler
runs where no test is collected (its own ``xdist_group`` mark relies on rewriting test ids, which
pytest 9.2 no longer allows). The long units come first, so that they run beside all the others; a long
module may join another's unit (AFTER) to run after it on one worker.
"""

from __future__ import annotations

import re

import pytest

# Modules whose tests form one unit, longest first: each shares a module-scoped trial, build or page.
WHOLE_MODULES = (
    "test_hub.py",
    "test_difference.py",
    "test_self_shutdown.py",
    "test_sagemaker.py",
    "test_kubeflow.py",
    "test_faults.py",
    "test_culling.py",
    "test_gpu.py",
    "test_packaging.py",
)
# Modules that run after another on its worker, in the same unit: the self-shutdown trial's twelve
# servers and pages set up beside the hub's and the matrix's (three trials at once on two cores) made a
# kernel start slower than the matrix's 10 s culler, and kept every other test waiting for a free worker.
# After the matrix, it finishes with the hub, while the third worker runs everything else.
AFTER = {"test_self_shutdown.py": "test_difference.py"}
# Modules whose tests share a notebook per frontend (module-scoped fixtures): one unit per frontend.
NOTEBOOK_PER_FRONTEND = (
    "test_browser.py",
    "test_badge.py",
    "test_saved_notebook.py",
    "test_output_text.py",
    "test_kernel_gone.py",
)
# Tests (module::function) whose cases, one per frontend, read one shared trial: one unit.
SHARED_TRIALS = ("test_kernel_gone.py::test_a_server_stopped_and_started_again_says_unreachable_then_gone",)
_FRONTEND = re.compile(r"\[(jupyterlab|notebook|nbclassic)\]$")


def module_of(nodeid: str) -> str:
    """The test file's name: test ids start with its path, which `make test-compat` gives as seen from
    a folder outside the checkout ("../../tests/test_hub.py")."""
    return nodeid.partition("::")[0].rpartition("/")[2]


def unit(nodeid: str) -> str:
    """The unit of the test ``nodeid``."""
    module, name = module_of(nodeid), nodeid.partition("::")[2]
    if module in WHOLE_MODULES:
        return AFTER.get(module, module)
    function = f"{module}::{name.partition('[')[0]}"
    if function in SHARED_TRIALS:
        return function
    frontend = _FRONTEND.search(name)
    if module in NOTEBOOK_PER_FRONTEND and frontend:
        return f"{module}[{frontend.group(1)}]"
    return nodeid


def pytest_collection_modifyitems(items):
    """The whole modules first, in the order above; the rest keep their order (a stable sort)."""
    first = {module: n for n, module in enumerate(WHOLE_MODULES)}
    items.sort(key=lambda item: first.get(module_of(item.nodeid), len(first)))


@pytest.hookimpl(optionalhook=True)  # `pytest -p no:xdist` runs without the hook's plugin
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        """pytest-xdist's scheduling by scope, with this module's units as the scopes."""

        def _split_scope(self, nodeid: str) -> str:
            return unit(nodeid)

    # Keep the order above: recent pytest-xdist would otherwise sort the units by their number of tests.
    config.option.loadscopereorder = False
    return Units(config, log)
