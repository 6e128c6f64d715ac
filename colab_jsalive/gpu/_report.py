"""What configure_gpu() found and did: one GPU (``GpuInfo``) and the report (``GpuReport``), as text for
``print()`` and as a table in a notebook."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class GpuInfo:
    """One physical GPU as TensorFlow will use it.

    ``index`` is the physical index (the one ``devices`` takes). ``memory_growth`` is what takes
    effect: ``TF_FORCE_GPU_ALLOW_GROWTH`` wins over the API, and a memory limit excludes growth.
    ``memory_limit_mb`` is None when TensorFlow may take the whole GPU. ``compute_capability`` is
    None when TensorFlow does not report one.
    """

    index: int
    name: str
    compute_capability: tuple[int, int] | None
    memory_growth: bool
    memory_limit_mb: int | None
    visible: bool = True


@dataclass
class GpuReport:
    """What :func:`configure_gpu` found and did; ``notes`` says, step by step, what was applied or
    skipped and why. ``restart_needed`` is True when something could not be applied because
    TensorFlow had already started (or was already imported, for the allocator)."""

    gpus: list[GpuInfo]
    tensorflow_version: str
    mixed_precision: str | None
    notes: list[str] = field(default_factory=list)
    restart_needed: bool = False

    _HEADER = ("GPU", "name", "compute capability", "memory growth", "memory limit", "visible")

    def _rows(self) -> list[tuple[str, ...]]:
        return [
            (
                str(g.index),
                g.name,
                "?" if g.compute_capability is None else "{}.{}".format(*g.compute_capability),
                "on" if g.memory_growth else "off",
                "none" if g.memory_limit_mb is None else f"{g.memory_limit_mb} MB",
                "yes" if g.visible else "no",
            )
            for g in self.gpus
        ]

    def _title(self) -> str:
        policy = self.mixed_precision or "not set by this call"
        return f"TensorFlow {self.tensorflow_version}, mixed precision: {policy}"

    def __str__(self) -> str:
        lines = [self._title()]
        if self.gpus:
            rows = [self._HEADER, *self._rows()]
            widths = [max(len(row[i]) for row in rows) for i in range(len(self._HEADER))]
            rows.insert(1, tuple("-" * w for w in widths))
            lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        else:
            lines.append("no GPU visible to TensorFlow")
        if self.restart_needed:
            lines.append("RESTART NEEDED: some settings could not be applied (see notes)")
        lines += ["notes:", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        parts = [f"<p><b>{e(self._title())}</b></p>"]
        if self.gpus:
            head = "".join(f"<th>{e(cell)}</th>" for cell in self._HEADER)
            body = "".join("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in self._rows())
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        else:
            parts.append("<p>no GPU visible to TensorFlow</p>")
        if self.restart_needed:
            parts.append("<p><b>Restart needed:</b> some settings could not be applied (see notes).</p>")
        parts.append("<ul>" + "".join(f"<li>{e(note)}</li>" for note in self.notes) + "</ul>")
        return "\n".join(parts)
