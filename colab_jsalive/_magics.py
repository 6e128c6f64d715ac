"""``%keepalive`` and ``%%keepalive``: the keep-alive for people who switch things on with magics.

Loaded by ``%load_ext colab_jsalive`` (``load_ipython_extension`` in ``__init__.py``), so that importing
colab_jsalive never needs IPython's magic machinery. Every value goes through ``inject()``'s own
checks; a bad one is shown as a one-line usage error, not a traceback.
"""

from __future__ import annotations

import shlex

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ._keepalive import inject, status
from ._session import Status


class CellFailed(Exception):
    """Marks a ``%%keepalive`` cell as failed (so that "Run All" stops there) once its own error is
    shown: IPython prints these lines in place of a second traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


@magics_class
class KeepAliveMagics(Magics):
    @magic_arguments()
    @argument(
        "what",
        nargs="?",
        default=None,
        metavar="INTERVAL|stop|status",
        help="seconds between beats (60 by default; '30', '90s', '2m'), or 'stop', or 'status'",
    )
    @argument(
        "--for",
        dest="duration",
        default=None,
        metavar="DURATION",
        help="stop by itself after this long (12h by default; '90s', '30m', '8h', '1h30m', '2d')",
    )
    @argument("--label", default=None, help="text shown in the badge")
    @line_cell_magic
    def keepalive(self, line: str, cell: str | None = None) -> Status | None:
        """Keep this runtime alive from the open page (colab_jsalive.inject()).

        %keepalive                        start with the defaults: a beat every 60 s, for at most 12 h
        %keepalive 30 --for 8h --label "run 3"
        %keepalive stop                   stop it
        %keepalive status                 the kernel's view of it
        %%keepalive [INTERVAL] [--for DURATION] [--label TEXT]
                                          keep alive while this cell runs; stopped when it ends, on an
                                          error too (like `with inject(): ...`)
        """
        try:
            # Shell-style quoting, so that --label "run 3" is the text run 3 (IPython's own splitter
            # keeps the quotes).
            words = shlex.split(line)
        except ValueError as error:
            raise UsageError(f"%keepalive: {error}: {line}") from None
        args = self.keepalive.parser.parse_args(words)  # a UsageError for unknown options
        options = {}
        if args.duration is not None:
            options["max_duration"] = args.duration
        if args.label is not None:
            options["label"] = args.label
        if args.what in ("stop", "status"):
            if cell is not None or options:
                raise UsageError(f"%keepalive {args.what} takes no options and no cell body")
            if args.what == "stop":
                inject(stop=True)
                return None
            return status()
        if args.what is not None:
            options["interval"] = args.what
        try:
            keep_alive = inject(**options)
        except (TypeError, ValueError) as error:
            raise UsageError(f"%keepalive: {error}") from None
        if cell is None:
            return None
        assert self.shell is not None  # IPython gives a registered magic its shell
        with keep_alive:
            result = self.shell.run_cell(cell, store_history=False)
        if not result.success:
            failure = result.error_in_exec or result.error_before_exec
            raise CellFailed(
                f"%%keepalive: the cell failed ({type(failure).__name__}, shown above); its keep-alive stopped"
            )
        return None
