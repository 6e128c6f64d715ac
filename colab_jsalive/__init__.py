"""colab_jsalive: keep a Colab or Jupyter runtime alive while it trains.

>>> from colab_jsalive import inject
>>> inject()                 # heartbeat from the browser every 60 s, for at most 12 h
>>> inject(stop=True)        # stop it
>>> with inject():           # or tie it to a job
...     model.fit(...)

In a notebook, ``%load_ext colab_jsalive`` adds ``%keepalive`` and ``%%keepalive``.
``colab_jsalive.gpu`` configures TensorFlow's GPUs for long runs; it loads TensorFlow only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._keepalive import KeepAlive, inject, status
from ._session import Status

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["KeepAlive", "Status", "inject", "status"]
__version__ = "0.1.0"


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext colab_jsalive``: registers the ``%keepalive`` line and cell magic."""
    from ._magics import KeepAliveMagics

    ipython.register_magics(KeepAliveMagics)
