"""Where is this kernel running, and which channel can carry a beat from the browser back to it?

Only cheap checks happen here: ``sys.modules`` lookups and environment variables. IPython is never
imported just to find out that it is not running.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field

# jupyter_server names each kernel's connection file after the kernel id it serves the kernel under.
_CONNECTION_FILE = re.compile(r"kernel-([0-9a-fA-F-]{8,64})\.json$")


@dataclass(frozen=True)
class Environment:
    """``channel`` is "jupyter" (a WebSocket to a Jupyter server), "colab" (Colab's invokeFunction),
    or "" when no channel exists.

    ``kind`` names the case for ``Status.frontend`` while no browser has answered: "unknown" where a
    channel exists, else "python", "terminal", "vscode", "no-colab", "no-server" or "no-comms";
    ``reason`` says, for the user, why no channel exists. ``comm_manager`` is the kernel's own comm
    manager, where the Jupyter channel registers its target.
    """

    channel: str
    kind: str
    reason: str = ""
    kernel_id: str | None = None
    comm_manager: object = field(default=None, compare=False, repr=False)


def detect(frontend: str = "auto") -> Environment:
    """Find the channel for ``frontend``: "auto", or "jupyter" / "colab" to force one."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return Environment("", "python", "this is not an IPython kernel, so no browser is attached")
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return Environment("", "terminal", "this is a terminal IPython session, which has no browser to send beats")
    if "__vsc_ipynb_file__" in shell.user_ns:
        return Environment(
            "",
            "vscode",
            "VS Code runs notebook JavaScript in its own output view with no channel to the kernel",
        )
    if frontend == "colab" or (frontend == "auto" and "COLAB_RELEASE_TAG" in os.environ):
        if not _colab_output_importable():
            return Environment("", "no-colab", "google.colab.output cannot be imported, so this is not a Colab runtime")
        return Environment("colab", "unknown")
    kernel_id = _kernel_id()
    if kernel_id is None:
        return Environment(
            "",
            "no-server",
            "this kernel was not started by a Jupyter server, so a page has no server to reach it through",
        )
    manager = comm_manager(kernel)
    if manager is None:
        return Environment(
            "",
            "no-comms",
            "this kernel does not hand comm messages to a comm manager, so it cannot receive beats",
        )
    return Environment("jupyter", "unknown", kernel_id=kernel_id, comm_manager=manager)


def comm_manager(kernel: object) -> object | None:
    """The comm manager ``kernel`` hands every ``comm_open`` to, or None when there is none.

    Every ipykernel keeps it as ``kernel.comm_manager``: before 6.18 an ``ipykernel.comm.CommManager``,
    from 6.18 on the ``comm`` package's. ``comm.get_comm_manager()`` is not the kernel's manager before
    6.18 (a target registered there is never called), and the ``comm`` package may be missing
    altogether, so the manager is taken from the kernel and checked against its message handlers.
    """
    manager = getattr(kernel, "comm_manager", None)
    handlers = getattr(kernel, "shell_handlers", None)
    handler = handlers.get("comm_open") if isinstance(handlers, dict) else None
    if manager is None or getattr(handler, "__self__", None) is not manager:
        return None
    return manager


def _colab_output_importable() -> bool:
    # google.colab comes with the Colab runtime and is never a dependency; look for it only here.
    try:
        return importlib.util.find_spec("google.colab.output") is not None
    except (ImportError, ValueError):  # no "google" package at all, or a broken one
        return False


def _kernel_id() -> str | None:
    try:
        from ipykernel.connect import get_connection_file

        match = _CONNECTION_FILE.search(os.path.basename(get_connection_file()))
    except Exception:  # no ipykernel app, or one without a connection file
        return None
    return match.group(1) if match else None
