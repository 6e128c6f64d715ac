"""`make demo`: the product's claim, shown on a real Jupyter server with an aggressive idle culler.

Two notebooks open in JupyterLab in headless Chromium. One runs ``inject()``, the other does not. The
server culls kernels idle for CULL_TIMEOUT seconds, even with a page connected. The demo prints what
happened to each kernel, and exits 0 only when the keep-alive kernel lived and the control was culled.
(`make pictures`, demo/pictures.py, photographs the badge's states for the documentation.)
"""

from __future__ import annotations

import sys

from demo import real_parts
from tests.support.trials import CullingCase, culling_trial

CULL_TIMEOUT = 20  # seconds idle before the server culls a kernel
INTERVAL = 5.0  # seconds between beats
OUTLIVE = 3 * CULL_TIMEOUT  # how long the keep-alive kernel must outlive the culler


def main() -> int:
    print(
        f"Jupyter server with an idle culler: cull_idle_timeout={CULL_TIMEOUT} s, cull_connected=True\n"
        "(cull_connected=True is what lets the culler take the control: jupyter_server's default, False,\n"
        "never culls a kernel with a page open, keep-alive or not)"
    )
    with real_parts(cull_idle_timeout=CULL_TIMEOUT) as (server, browser):
        try:
            (case,) = culling_trial(
                browser,
                [CullingCase(server, "jupyterlab")],
                INTERVAL,
                OUTLIVE,
                log=lambda line: print("  " + line, flush=True),
            )
        except (AssertionError, TimeoutError) as error:
            print(f"\nFAILED: {error}")
            return 1
    failures = [
        what
        for what, failed in (
            ("the control kernel was never culled", case.control_culled_after is None),
            (
                f"the keep-alive kernel was culled {case.keep_culled_after} s after inject()",
                case.keep_culled_after is not None,
            ),
            ("the keep-alive kernel was not culled after Stop", case.culled_after_stop is None),
        )
        if failed
    ]
    if failures:
        print("\nFAILED: " + "; ".join(failures))
        return 1
    rows = [
        ("notebook", "keep-alive", "beats", "kernel"),
        (
            case.keep.notebook,
            f"inject(interval={INTERVAL:g})",
            str(case.beats),
            f"alive after {case.watched_for:.0f} s; culled {case.culled_after_stop:.0f} s after Stop",
        ),
        (case.control.notebook, "none", "0", f"culled after {case.control_culled_after:.0f} s"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print()
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))
    print(
        "OK: the kernel with inject() outlived the idle culler; the control kernel was culled\n"
        '(it died because this server sets cull_connected=True; see "Do you need it?" in the documentation).'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
