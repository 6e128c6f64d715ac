"""GPU settings for long TensorFlow runs: memory growth or a limit, visible GPUs, mixed precision.

>>> from colab_jsalive.gpu import configure_gpu, keras_callback, memory_info
>>> print(configure_gpu())          # first thing in the notebook: memory growth on every GPU
>>> model.fit(x, y, epochs=50, callbacks=[keras_callback()])
>>> print(memory_info())

``import colab_jsalive.gpu`` loads neither TensorFlow nor Keras; they load on first use. TensorFlow
fixes its GPU setup when its runtime starts (the first tensor or model); after that most settings
need a runtime restart, and the report says which.
"""

from __future__ import annotations

import functools
import gc
import html
import inspect
import math
import numbers
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

from . import _validate

POLICIES = ("mixed_float16", "mixed_bfloat16", "float32")
ALLOCATORS = ("cuda_malloc_async",)
GROWTH_ENV = "TF_FORCE_GPU_ALLOW_GROWTH"
ALLOCATOR_ENV = "TF_GPU_ALLOCATOR"
INSTALL = 'pip install "colab-jsalive[tensorflow]"'
RESTART = "restart the runtime and call configure_gpu() before anything else uses TensorFlow"

# Tensor cores do float16 from compute capability 7.0 (Volta) and bfloat16 from 8.0 (Ampere); below
# that, mixed precision only adds casts.
_FAST_FROM = {"mixed_float16": (7, 0), "mixed_bfloat16": (8, 0)}
_MB = 2**20

# The environment variables this module set, with their values, so that a later call never takes
# them for the user's own.
_ours: dict[str, str] = {}


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
            lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
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
            body = "".join(
                "<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in self._rows()
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        else:
            parts.append("<p>no GPU visible to TensorFlow</p>")
        if self.restart_needed:
            parts.append("<p><b>Restart needed:</b> some settings could not be applied (see notes).</p>")
        parts.append("<ul>" + "".join(f"<li>{e(note)}</li>" for note in self.notes) + "</ul>")
        return "\n".join(parts)


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
        host = "unknown" if self.host_rss_bytes is None else f"{self.host_rss_bytes / _MB:.1f} MB"
        lines = [f"host RSS: {host}"]
        lines += [
            f"GPU:{g.index}: {g.current_bytes / _MB:.1f} MB in use, peak {g.peak_bytes / _MB:.1f} MB"
            for g in self.gpus
        ]
        return "\n".join(lines + self.notes)


class _Log:
    """The notes of one configure_gpu() call, whether a restart is needed, and warnings to raise."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.restart = False

    def add(self, note: str, restart: bool = False) -> None:
        self.notes.append(note)
        self.restart = self.restart or restart


def configure_gpu(
    memory_growth: bool | None = None,
    memory_limit_mb: int | None = None,
    devices: int | list[int] | None = None,
    mixed_precision: str | None = None,
    allocator: str | None = None,
) -> GpuReport:
    """Set up every visible GPU for a long run; call it before anything else uses TensorFlow.

    Before TensorFlow is imported, memory growth and the allocator go through TensorFlow's
    environment variables (read when its runtime starts, whatever else happens first), and growth
    also through ``tf.config``. A value the user set in the environment is never overwritten; the
    report says when it overrides. Once TensorFlow has started its GPUs, nothing raises: the report
    lists what could not be applied and that a runtime restart is needed.

    Args:
        memory_growth: True to let TensorFlow take GPU memory as it needs it instead of nearly all of
            it at start; the same on every GPU. None (default) means on, unless ``memory_limit_mb``
            is given.
        memory_limit_mb: cap TensorFlow at this many MB (2**20 bytes) per GPU, a positive whole
            number. Excludes memory growth.
        devices: the GPU index, or list of indices, to keep visible; the others are hidden from
            TensorFlow. None keeps the visibility as it is.
        mixed_precision: a Keras dtype policy: "mixed_float16", "mixed_bfloat16" or "float32". Warns
            when the GPUs cannot benefit (float16 below compute capability 7.0, bfloat16 below 8.0,
            or no GPU).
        allocator: None, or "cuda_malloc_async" for CUDA's asynchronous allocator. Only possible
            before TensorFlow is imported; it can kill the process on old drivers or GPUs.

    Returns:
        A :class:`GpuReport`; ``print()`` it, or show it in a notebook as a table.

    Raises:
        TypeError, ValueError: for a bad argument (checked before TensorFlow is imported), for
            ``memory_growth=True`` together with ``memory_limit_mb``, and for ``devices`` naming a
            GPU that does not exist.
        ImportError: when TensorFlow is not installed.
    """
    if memory_growth is not None:
        _validate.flag(memory_growth, "memory_growth")
    limit = None if memory_limit_mb is None else _megabytes(memory_limit_mb)
    if memory_growth and limit is not None:
        raise ValueError(
            f"memory_growth=True and memory_limit_mb={memory_limit_mb!r} exclude each other: TensorFlow "
            "either grows its memory as needed or takes a fixed limit; pass only one of them"
        )
    keep = None if devices is None else _indices(devices)
    if mixed_precision is not None:
        _validate.choice(mixed_precision, "mixed_precision", POLICIES)
    if allocator is not None:
        _validate.choice(allocator, "allocator", ALLOCATORS)
    growth = limit is None if memory_growth is None else memory_growth

    log = _Log()
    set_now = _environment(growth, allocator, _tensorflow_imported(), log)
    try:
        backend = _backend()
        report = _apply(backend, growth, limit, keep, mixed_precision, log)
    except BaseException:
        # A call that raises leaves the environment as it found it.
        for name in set_now:
            os.environ.pop(name, None)
            _ours.pop(name, None)
        raise
    for message in log.warnings:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return report


def memory_info() -> MemoryInfo:
    """GPU memory in use by TensorFlow now and at its peak, per GPU, and this process's host RSS.

    Never imports TensorFlow: when it is not imported yet, it holds no GPU memory and ``gpus`` is
    empty. Otherwise this starts TensorFlow's runtime if nothing has yet (``get_memory_info`` does),
    which fixes the GPU setup: call :func:`configure_gpu` first.

    Returns:
        A :class:`MemoryInfo`. Host memory comes from psutil when it is installed, else from
        /proc/self/status.
    """
    host = _host_rss()
    if not _tensorflow_imported():
        return MemoryInfo([], host, ["TensorFlow is not imported, so it holds no GPU memory"])
    backend = _backend()
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
    if _tensorflow_imported():
        parts.append(
            "TensorFlow keeps the GPU memory it reserved until the process ends: it reuses it for new "
            "tensors, but nvidia-smi still shows it in use and other processes cannot have it. Only a "
            "runtime restart returns it to the driver."
        )
    else:
        parts.append("TensorFlow is not imported, so it holds no GPU memory.")
    return " ".join(parts)


def keras_callback(**inject_kwargs: Any) -> Any:
    """A Keras callback: keep-alive while ``fit()`` trains, and memory use in each epoch's logs.

    ``on_train_begin`` calls ``colab_jsalive.inject(**inject_kwargs)`` and ``on_train_end`` stops it,
    unless a keep-alive already runs: then the callback leaves it to its owner. Each epoch's logs get
    ``host_rss_mb`` and, per GPU i, ``gpu{i}_mem_current_mb`` and ``gpu{i}_mem_peak_mb``, so
    ``History`` and the progress bar show them.

    Keras skips ``on_train_end`` when ``fit()`` raises, and a keep-alive the callback started then runs
    on until its ``max_duration``. The exception-safe form is ``inject()`` as a context manager, which
    the callback joins rather than replaces::

        with inject():
            model.fit(x, y, callbacks=[keras_callback()])

    Args:
        **inject_kwargs: passed to :func:`colab_jsalive.inject` (interval, max_duration, label,
            frontend) when training begins.

    Returns:
        A ``keras.callbacks.Callback``; its ``keepalive`` attribute holds the handle once training
        has begun.

    Raises:
        TypeError: for an argument ``inject()`` does not take, and for ``stop``.
    """
    from ._keepalive import inject

    if "stop" in inject_kwargs:
        raise TypeError("keras_callback() starts and stops the keep-alive itself; it takes no stop argument")
    try:
        inspect.signature(inject).bind(**inject_kwargs)
    except TypeError as error:
        raise TypeError(f"keras_callback() passes its arguments to inject(): {error}") from None
    return _callback_type()(inject_kwargs)


@functools.cache
def _callback_type() -> type:
    # Built on first use, so that importing this module does not import Keras (and TensorFlow).
    import keras

    class KeepAliveCallback(keras.callbacks.Callback):
        """Runs colab_jsalive.inject() while fit() trains and logs memory use per epoch."""

        def __init__(self, inject_kwargs: dict[str, Any]) -> None:
            super().__init__()
            self.inject_kwargs = dict(inject_kwargs)
            self.keepalive = None

        def on_train_begin(self, logs: dict | None = None) -> None:
            import colab_jsalive  # looked up now, so the package's inject() is the one called

            # A keep-alive that already runs (``with inject(): fit(...)``) belongs to its owner, who
            # stops it even when fit() raises; replacing it would undo that.
            if colab_jsalive.status().active:
                self.keepalive = None
                return
            self.keepalive = colab_jsalive.inject(**self.inject_kwargs)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # Keras hands the same dict to History and the progress bar, which come after us.
            if logs is not None:
                logs.update(_epoch_logs())

        def on_train_end(self, logs: dict | None = None) -> None:
            if self.keepalive is not None:
                self.keepalive.stop()

    KeepAliveCallback.__module__ = __name__
    return KeepAliveCallback


def _epoch_logs() -> dict[str, float]:
    info = memory_info()
    logs = {} if info.host_rss_bytes is None else {"host_rss_mb": round(info.host_rss_bytes / _MB, 1)}
    for gpu in info.gpus:
        logs[f"gpu{gpu.index}_mem_current_mb"] = round(gpu.current_bytes / _MB, 1)
        logs[f"gpu{gpu.index}_mem_peak_mb"] = round(gpu.peak_bytes / _MB, 1)
    return logs


def _backend() -> Any:
    """TensorFlow's device configuration, behind the one seam the tests replace."""
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            f"colab_jsalive.gpu needs TensorFlow, which cannot be imported here ({error}). "
            f"Install it with: {INSTALL}, then restart the runtime."
        ) from error
    from ._tf_devices import TFDevices

    return TFDevices(tf)


def _tensorflow_imported() -> bool:
    # sys.modules["tensorflow"] = None is how one blocks an import, so look at the value.
    return sys.modules.get("tensorflow") is not None


def _megabytes(value: object) -> int:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(
            f"memory_limit_mb must be a whole number of megabytes, got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"memory_limit_mb must be a whole number of megabytes, got {value!r}")
    if value <= 0:
        raise ValueError(f"memory_limit_mb must be a positive number of megabytes, got {value!r}")
    return int(value)


def _indices(value: object) -> list[int]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        items: list[object] = [value]
    elif isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            "devices must be a GPU index or a list of GPU indices (ints), "
            f"got {type(value).__name__} {value!r}"
        )
    else:
        items = list(value)  # type: ignore[call-overload]
    for item in items:
        if not isinstance(item, numbers.Integral) or isinstance(item, bool):
            raise TypeError(
                f"devices must hold GPU indices (ints), got {type(item).__name__} {item!r} in {value!r}"
            )
        if item < 0:
            raise ValueError(f"devices must hold GPU indices from 0 up, got {item!r} in {value!r}")
    return list(dict.fromkeys(int(i) for i in items))  # type: ignore[arg-type]


def _users(name: str) -> str | None:
    """The value of environment variable ``name`` if the user set it (not this module)."""
    value = os.environ.get(name)
    return None if value is None or _ours.get(name) == value else value


def _set_env(name: str, value: str, set_now: list[str]) -> None:
    os.environ[name] = value
    _ours[name] = value
    set_now.append(name)


def _environment(growth: bool, allocator: str | None, imported: bool, log: _Log) -> list[str]:
    """Set TensorFlow's environment variables where they are the reliable route; return those set."""
    set_now: list[str] = []
    user = _users(GROWTH_ENV)
    if user is not None:
        if user not in ("true", "false"):
            log.add(
                f"{GROWTH_ENV}={user!r} is set, but TensorFlow reads only 'true' or 'false' and ignores it; "
                "left as is"
            )
        elif (user == "true") != growth:
            effect = (
                "grows GPU memory as needed (up to a memory limit, if one is set)"
                if user == "true"
                else "reserves nearly all GPU memory at start"
            )
            log.add(
                f"{GROWTH_ENV}={user} is set in the environment and overrides memory growth: TensorFlow "
                f"{effect}, on every GPU. Left as is; unset it and restart the runtime to change that"
            )
        else:
            log.add(f"{GROWTH_ENV}={user} is set in the environment and agrees; left as is")
    elif growth and not imported:
        if os.environ.get(GROWTH_ENV) != "true":
            _set_env(GROWTH_ENV, "true", set_now)
            log.add(f"set {GROWTH_ENV}=true: TensorFlow is not imported yet, and reads it when it starts")
    elif not growth and GROWTH_ENV in _ours:
        os.environ.pop(GROWTH_ENV, None)
        _ours.pop(GROWTH_ENV)
        log.add(f"removed {GROWTH_ENV}=true, which an earlier configure_gpu() call set")

    current = os.environ.get(ALLOCATOR_ENV)
    if allocator is None:
        if current is not None:
            log.add(f"{ALLOCATOR_ENV}={current} is set in the environment; left as is")
    elif current == allocator:
        log.add(
            f"{ALLOCATOR_ENV}={allocator} is already set; it applies if it was set before TensorFlow started"
        )
    elif current is not None:
        log.add(
            f"allocator={allocator!r} not applied: {ALLOCATOR_ENV}={current} is set in the environment; "
            "left as is"
        )
    elif imported:
        log.add(
            f"allocator={allocator!r} not applied: TensorFlow is already imported, and {ALLOCATOR_ENV} "
            "only works when set before that; restart the runtime and call configure_gpu(allocator=...) "
            "before importing TensorFlow",
            restart=True,
        )
    else:
        _set_env(ALLOCATOR_ENV, allocator, set_now)
        log.add(
            f"set {ALLOCATOR_ENV}={allocator}: CUDA's asynchronous allocator. On old drivers or GPUs it "
            "can kill the process; then restart the runtime without it"
        )
    return set_now


def _apply(
    backend: Any, growth: bool, limit: int | None, keep: list[int] | None, policy: str | None, log: _Log
) -> GpuReport:
    gpus = backend.gpus()
    if keep is not None:
        missing = [i for i in keep if i >= len(gpus)]
        if missing:
            absent = ", ".join(map(str, missing))
            raise ValueError(f"devices={keep}: there is no GPU {absent}; {_gpu_list(backend, gpus)}")
        _set_visible(backend, gpus, keep, log)
    if not gpus:
        log.add(
            "TensorFlow sees no GPU (tensorflow-cpu, no CUDA driver, or none attached): memory growth "
            "and limits have nothing to apply to; models run on the CPU"
        )
    else:
        visible = backend.visible_gpus()
        targets = [(i, gpu) for i, gpu in enumerate(gpus) if gpu in visible]
        if not targets:
            log.add("every GPU is hidden from TensorFlow: nothing else to set")
        elif limit is None:
            _set_growth(backend, targets, growth, log)
        else:
            _set_limit(backend, targets, limit, log)
    infos = _infos(backend, gpus)
    if policy is not None:
        _set_policy(backend, policy, [g for g in infos if g.visible], log)
    return GpuReport(infos, backend.version, policy, log.notes, log.restart)


def _gpu_list(backend: Any, gpus: list[Any]) -> str:
    if not gpus:
        return "TensorFlow sees no GPU"
    names = ", ".join(f"{i} ({_name(backend, gpu)})" for i, gpu in enumerate(gpus))
    return f"TensorFlow sees GPU {names}"


def _name(backend: Any, gpu: Any) -> str:
    return backend.details(gpu).get("device_name") or gpu.name


def _numbers(indices: list[int]) -> str:
    return ("GPU " if len(indices) == 1 else "GPUs ") + ", ".join(map(str, indices))


def _not_applied(what: str, error: Exception, log: _Log) -> None:
    if "after being initialized" in str(error):
        log.add(
            f"{what} not applied: TensorFlow has already started its GPUs ({error}); {RESTART}", restart=True
        )
    else:
        log.add(f"{what} not applied: {error}")


def _set_visible(backend: Any, gpus: list[Any], keep: list[int], log: _Log) -> None:
    hidden = [i for i in range(len(gpus)) if i not in keep]
    try:
        backend.set_visible_gpus([gpus[i] for i in keep])
    except RuntimeError as error:
        _not_applied(f"devices={keep}", error, log)
        return
    shown = _numbers(keep) if keep else "no GPU"
    hidden_text = f"; hidden: {', '.join(map(str, hidden))}" if hidden else ""
    log.add(f"visible to TensorFlow: {shown}{hidden_text}")


def _set_growth(backend: Any, targets: list[tuple[int, Any]], growth: bool, log: _Log) -> None:
    # Growth is set on every visible GPU, even to False: TensorFlow refuses to start when the GPUs
    # differ, and an unset GPU (None) differs from one set to False.
    done, limited = [], []
    for index, gpu in targets:
        try:
            backend.set_memory_growth(gpu, growth)
            done.append(index)
        except ValueError as error:
            if "virtual devices" in str(error):
                limited.append(index)  # a memory limit (logical device configuration) is set there
            else:
                _not_applied(f"memory growth for GPU {index}", error, log)
        except RuntimeError as error:
            if bool(backend.memory_growth(gpu)) == growth:
                done.append(index)  # started with the value asked for
            else:
                _not_applied(f"memory growth {'on' if growth else 'off'} for GPU {index}", error, log)
    if done:
        effect = (
            "TensorFlow takes GPU memory as it needs it (and keeps it until the process ends)"
            if growth
            else "TensorFlow reserves nearly all of the GPU's memory when it starts"
        )
        log.add(f"memory growth {'on' if growth else 'off'} for {_numbers(done)}: {effect}")
    if limited and growth:
        log.add(
            f"memory growth not applied to {_numbers(limited)}: a memory limit (logical device "
            "configuration) is set there, and TensorFlow allows only one of the two (while any GPU has a "
            f"limit, it ignores growth on all of them); {RESTART}",
            restart=True,
        )
    elif limited:
        log.add(f"{_numbers(limited)} keep their memory limit, so growth is off there")


def _set_limit(backend: Any, targets: list[tuple[int, Any]], limit: int, log: _Log) -> None:
    done = []
    for index, gpu in targets:
        try:
            backend.set_memory_limit(gpu, limit)
            done.append(index)
        except RuntimeError as error:  # TensorFlow raises only for a change
            _not_applied(f"memory_limit_mb={limit} for GPU {index}", error, log)
    if done:
        log.add(
            f"memory limit {limit} MB for {_numbers(done)}: TensorFlow reserves that much at its first "
            "use of the GPU and never takes more"
        )


def _infos(backend: Any, gpus: list[Any]) -> list[GpuInfo]:
    visible = backend.visible_gpus()
    limits = [backend.memory_limit_mb(gpu) for gpu in gpus]
    forced = os.environ.get(GROWTH_ENV)
    # TensorFlow ignores memory growth as soon as any visible GPU has a logical device configuration.
    any_limit = any(limit is not None for limit, gpu in zip(limits, gpus) if gpu in visible)
    infos = []
    for index, (gpu, limit) in enumerate(zip(gpus, limits)):
        if forced in ("true", "false"):
            growth = forced == "true"
        else:
            growth = not any_limit and bool(backend.memory_growth(gpu))
        capability = backend.details(gpu).get("compute_capability")
        infos.append(
            GpuInfo(
                index=index,
                name=_name(backend, gpu),
                compute_capability=None if capability is None else tuple(capability),
                memory_growth=growth,
                memory_limit_mb=limit,
                visible=gpu in visible,
            )
        )
    return infos


def _set_policy(backend: Any, policy: str, visible: list[GpuInfo], log: _Log) -> None:
    backend.set_policy(policy)
    log.add(f"Keras mixed precision policy: {policy} (keras.backend.clear_session() resets it to float32)")
    if policy not in _FAST_FROM:
        return
    need = _FAST_FROM[policy]
    slow = [g for g in visible if g.compute_capability is not None and g.compute_capability < need]
    if not visible:
        message = (
            f"mixed_precision={policy!r}: no GPU is visible to TensorFlow, and on the CPU it is usually "
            "slower than float32"
        )
    elif slow:
        found = ", ".join(
            "GPU {} ({}) has {}.{}".format(g.index, g.name, *g.compute_capability) for g in slow
        )
        message = (
            f"mixed_precision={policy!r} pays off only from compute capability {need[0]}.{need[1]}; "
            f"{found}, where it is usually slower than float32: use 'float32' there"
        )
    else:
        return
    log.add(message)
    log.warnings.append(message)


def _host_rss() -> int | None:
    try:
        import psutil  # optional: not a dependency of this package
    except ImportError:
        psutil = None
    if psutil is not None:
        return psutil.Process().memory_info().rss
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return None
