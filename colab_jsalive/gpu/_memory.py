"""Memory: what TensorFlow holds on each GPU and this process on the host (``memory_info()``), and
``release_memory()``, which says plainly what it can and cannot give back."""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass, field

from . import _tf_devices

MB = 2**20


@dataclass
class GpuMemory:
    """Bytes TensorFlow holds in use on logical GPU ``index`` ("GPU:index"), now and at its peak."""

    index: int
    current_bytes: int
    peak_bytes: int


@dataclass
class MemoryInfo:
    """GPU memory in use by TensorFlow, per GPU, and this process's resident host memory.

    ``host_rss_bytes`` is None where neither psutil nor /proc is available. TensorFlow reserves more
    GPU memory than it has in use: ``nvidia-smi`` shows the reservation, these numbers the use.
    """

    gpus: list[GpuMemory]
    host_rss_bytes: int | None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        host = "unknown" if self.host_rss_bytes is None else f"{self.host_rss_bytes / MB:.1f} MB"
        lines = [f"host RSS: {host}"]
        lines += [
            f"GPU:{g.index}: {g.current_bytes / MB:.1f} MB in use, peak {g.peak_bytes / MB:.1f} MB" for g in self.gpus
        ]
        return "\n".join(lines + self.notes)


def memory_info() -> MemoryInfo:
    """GPU memory in use by TensorFlow now and at its peak, per GPU, and this process's host RSS.

    Never imports TensorFlow: when it is not imported yet, it holds no GPU memory and ``gpus`` is
    empty. Otherwise this starts TensorFlow's runtime if nothing has yet (``get_memory_info`` does),
    which fixes the GPU setup: call :func:`configure_gpu` first.

    Returns:
        A :class:`MemoryInfo`. Host memory comes from psutil when it is installed, else from
        /proc/self/status.
    """
    host = host_rss()
    if not _tf_devices.tensorflow_imported():
        return MemoryInfo([], host, ["TensorFlow is not imported, so it holds no GPU memory"])
    backend = _tf_devices.backend()
    gpus, notes = [], []
    for index in range(backend.logical_gpu_count()):
        try:
            info = backend.memory_info(f"GPU:{index}")
        except (RuntimeError, ValueError) as error:  # some builds and plugins do not track memory
            notes.append(f"GPU:{index}: TensorFlow reports no memory use ({error})")
            continue
        gpus.append(GpuMemory(index, int(info["current"]), int(info["peak"])))
    return MemoryInfo(gpus, host, notes)


def release_memory() -> str:
    """Clear Keras' state (``keras.backend.clear_session()``) and collect garbage.

    This does not give GPU memory back: TensorFlow keeps what it reserved until the process ends. It
    reuses it for new tensors, but ``nvidia-smi`` still shows it in use and other processes cannot
    have it; only a runtime restart returns it to the driver. ``clear_session()`` also resets Keras'
    mixed precision policy to float32; the message says so when that changed the policy.

    Returns:
        A message saying what was done, and what was not.
    """
    keras = sys.modules.get("keras")
    parts = []
    if keras is None:
        parts.append("Keras is not imported, so there was no Keras state to clear.")
    else:
        before = keras.mixed_precision.global_policy().name
        keras.backend.clear_session()
        after = keras.mixed_precision.global_policy().name
        parts.append("Cleared Keras' state (keras.backend.clear_session()): build models again to use them.")
        if after != before:
            parts.append(
                f"The mixed precision policy is {after} again, as clear_session() resets it (it was "
                f"{before}): call configure_gpu(mixed_precision={before!r}) to set it back."
            )
    parts.append(f"Garbage collection found {gc.collect()} unreachable objects.")
    if _tf_devices.tensorflow_imported():
        parts.append(
            "TensorFlow keeps the GPU memory it reserved until the process ends: it reuses it for new "
            "tensors, but nvidia-smi still shows it in use and other processes cannot have it. Only a "
            "runtime restart returns it to the driver."
        )
    else:
        parts.append("TensorFlow is not imported, so it holds no GPU memory.")
    return " ".join(parts)


def host_rss() -> int | None:
    try:
        import psutil  # optional: not a dependency of this package
    except ImportError:
        psutil = None
    if psutil is not None:
        return int(psutil.Process().memory_info().rss)
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return None
