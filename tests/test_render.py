"""The snippet: rendered from js/ through one cached Jinja environment, every value through |tojson."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from colab_jsalive._render import _environment, readable, snippet
from tests.support.browser import show_snippet, snippet_config

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_LABELS = [
    "</script><script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 1">',
    "'; window.__pwned = 1; '",
    '"); window.__pwned = 1; ("',
    "`${window.__pwned = 1}`",
    "${x}",
    "{{ x }}",
    "{% raw %}",
    "line\u2028separator\u2029paragraph",
    '\\\\"\\',
    "naïve 日本語 🚀",
]


def test_the_environment_is_built_once():
    assert _environment() is _environment()


def test_every_value_enters_the_templates_through_tojson():
    templates = sorted((ROOT / "js").glob("*.jinja"))
    assert templates, f"no template found in {ROOT / 'js'}"
    for template in templates:
        for expression in re.findall(r"{{(.*?)}}", template.read_text()):
            assert re.search(r"\|\s*tojson\s*$", expression), f"{template.name}: {{{{{expression}}}}}"


@pytest.mark.parametrize("channel", ["jupyter", "colab"])
@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_the_snippet_parses_whatever_the_label(label, channel, tmp_path):
    script = tmp_path / "snippet.js"
    script.write_text(snippet(snippet_config(label, channel)), encoding="utf-8")
    result = subprocess.run([shutil.which("node") or "node", "--check", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_each_channel_renders_only_its_own_code():
    jupyter, colab = snippet(snippet_config()), snippet(snippet_config(channel="colab"))
    assert "JsaliveJupyterChannel(" in jupyter and "invokeFunction" not in jupyter
    assert "JsaliveColabChannel(" in colab and "WebSocket" not in colab


@pytest.mark.parametrize("label", HOSTILE_LABELS[:2])  # a closing script tag, and markup
def test_the_label_cannot_close_the_script_element_or_add_markup(label):
    text = snippet(snippet_config(label))
    assert "</script" not in text.lower() and "<img" not in text.lower() and "<script" not in text.lower()


def test_the_badge_shows_hostile_labels_as_text_and_creates_no_markup(browser):
    """In Chromium: each label shows exactly as given, and no element or script comes from it."""
    context = browser.new_context()
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for label in HOSTILE_LABELS:
            page.set_content("<!doctype html><div id='out'></div>")
            # Jupyter evaluates the snippet with `element` bound to the output node.
            show_snippet(page, snippet(snippet_config(label)))
            badge = page.locator("#out .colab-jsalive-badge")
            assert badge.locator(".colab-jsalive-label").text_content() == label
            tags = badge.evaluate("el => [...el.querySelectorAll('*')].map(e => e.tagName)")
            assert tags == ["SPAN", "STRONG", "SPAN", "SPAN", "BUTTON"], label
            # The label names the group and the Stop button for screen readers, as text in attributes.
            assert badge.get_attribute("aria-label") == f"keep-alive \u201c{label}\u201d"
            assert badge.locator("button").get_attribute("aria-label") == f"Stop keep-alive \u201c{label}\u201d"
            assert page.evaluate("window.__pwned") is None, label
            # Outside a Jupyter page there is no channel: the badge says so and nothing keeps running.
            assert badge.get_attribute("data-state") == "stopped"
            assert "not a Jupyter page" in badge.get_attribute("data-reason")
    finally:
        context.close()
    assert dialogs == []


@pytest.mark.parametrize("channel", ["jupyter", "colab"])
def test_the_snippet_is_minified_and_keeps_every_string(channel):
    """What goes into the saved notebook has no comments, and every string (the badge's words, the
    reasons, the config) is the one js/ holds."""
    shown, source = (
        snippet(snippet_config(HOSTILE_LABELS[4], channel)),
        readable(snippet_config(HOSTILE_LABELS[4], channel)),
    )
    assert shown.startswith("/*! colab_jsalive keep-alive")
    assert "// " not in shown and "\n  " not in shown
    assert len(shown) < 0.7 * len(source)
    strings = re.compile(r'"(?:[^"\\\n]|\\.)*"')
    # Each string of the minified snippet is one of the source's, in the same order (the source has
    # more: quotations in its comments).
    remaining = iter(strings.findall(source))
    for literal in strings.findall(shown):
        assert literal in remaining, f"{literal} is not in js/ as it stands there"
