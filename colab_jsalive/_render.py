"""Renders the browser snippet from the Jinja templates in js/.

``keepalive.js.jinja`` is the snippet: it includes the plain JavaScript files beside it (``core.js``,
``badge.js`` and one channel) and receives every value from Python through ``|tojson``. The rendered
JavaScript is then minified with rjsmin, because every ``inject()`` output is saved into the notebook:
js/ stays commented and readable, and the notebook carries only the code. Jinja and rjsmin are
imported on the first render, not when colab_jsalive is imported.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
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


def readable(config: dict[str, Any]) -> str:
    """The snippet for ``config`` with js/'s comments and layout: for reading and for `make bench`."""
    return _environment().get_template("keepalive.js.jinja").render(config=config)


def snippet(config: dict[str, Any]) -> str:
    """The JavaScript that runs a keep-alive in the page, for the given ``config`` values: what
    ``inject()`` displays, and what the browser tests run."""
    return minify(readable(config))


class Snippet:
    """What ``inject()`` displays: the snippet as application/javascript, and as text/plain one line that
    says what it is, which is what shows wherever the JavaScript does not run (an untrusted notebook,
    a collaborator's page, GitHub, nbviewer, nbconvert)."""

    def __init__(self, config: dict[str, Any], text: str) -> None:
        self.javascript = snippet(config)
        self.text = text

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"application/javascript": self.javascript, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


def minify(javascript: str) -> str:
    """``javascript`` without comments and layout, as every snippet is shown (the node tests run js/
    files through this too)."""
    import rjsmin

    # rjsmin removes comments and whitespace and leaves strings, regular expressions and template
    # literals as they are. The one /*! ... */ comment it keeps says in the saved notebook what this is.
    minified: str = rjsmin.jsmin(javascript, keep_bang_comments=True)
    return minified
