"""The documentation: a README a newcomer reads in two minutes, with install and the Colab quick start
where they look first, and a site that builds strictly (a broken link, a page missing from the
navigation or any other warning fails) and shows the badge's states in pictures a command took."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text().splitlines()
MAX_README_LINES = 200


def first_line(pattern: str) -> int:
    """The README's first line (counted from 1) that matches ``pattern``."""
    return next(n for n, line in enumerate(README, 1) if re.search(pattern, line))


def test_the_readme_is_short_with_install_and_the_quick_start_first():
    assert len(README) <= MAX_README_LINES, f"README.md has {len(README)} lines; move details to docs/"
    assert first_line(r"^!pip install colab-jsalive$") <= 40
    assert first_line(r"^pip install colab-jsalive$") <= 40
    assert first_line(r"colab-jsalive\[tensorflow\]") <= 40
    colab = first_line(r"^In Google Colab:$")
    assert colab <= 80 and README[colab + 1] == "```python" and "inject()" in "\n".join(README[colab : colab + 8])
    assert first_line(r"^with inject\(") <= 80
    assert first_line(r"^%keepalive") <= 80


def test_the_readme_covers_what_a_user_needs_and_links_into_the_docs():
    text = "\n".join(README)
    for heading in ("Install", "Quick start", "Do you need it?", "Check that it works", "Limits", "Licence"):
        assert f"\n## {heading}\n" in text, heading
    assert "status()" in text and "colab_jsalive.gpu" in text
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)", text))
    pages = {page.name for page in (ROOT / "docs").glob("*.md")} - {"index.md", "changelog.md"}
    assert linked == pages, f"pages the README does not link: {sorted(pages - linked)}"


def test_the_site_builds_strictly(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    reference = (tmp_path / "site" / "reference" / "index.html").read_text()
    for name in ("inject", "status", "KeepAlive", "Status", "configure_gpu", "keras_callback"):
        assert f'id="colab_jsalive.{name}"' in reference or f'id="colab_jsalive.gpu.{name}"' in reference, name


def test_the_badge_page_shows_every_state_in_both_themes_and_the_readme_one():
    """Every picture `make pictures` took is on the badge page, and the README shows one of them."""
    pictures = sorted(path.name for path in (ROOT / "docs" / "images").glob("badge-*.png"))
    states = ("running", "busy", "reconnecting", "stopped", "text")
    assert pictures == sorted(f"badge-{state}-{theme}.png" for state in states for theme in ("light", "dark"))
    page = (ROOT / "docs" / "badge.md").read_text()
    assert [name for name in pictures if f"(images/{name})" not in page] == []
    assert len(re.findall(r"!\[[^\]]*\]\(docs/images/badge-[\w-]+\.png\)", "\n".join(README))) == 1
