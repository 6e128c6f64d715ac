"""Renders the browser snippet from the Jinja templates in js/.

``keepalive.js.jinja`` is the snippet: it includes the plain JavaScript files beside it (``core.js``,
``badge.js``, ``jupyter_channel.js``) and receives every value from Python through ``|tojson``.
Jinja is imported on the first render, not when colab_jsalive is imported.
"""

from __future__ import annotations

import functools
from pathlib import Path


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2

    here = Path(__file__).resolve().parent
    # A built wheel carries the templates inside the package; a source checkout (or an editable
    # install) keeps them in the top-level js/ folder.
    folder = here / "js" if (here / "js").is_dir() else here.parent / "js"
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=False,  # the output is JavaScript; values are made safe by |tojson, not by HTML escaping
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def snippet(config: dict) -> str:
    """The JavaScript that runs a keep-alive in the page, for the given ``config`` values."""
    return _environment().get_template("keepalive.js.jinja").render(config=config)
