"""configure_gpu(): memory growth or a limit on every GPU, which GPUs are visible, mixed precision and
the allocator, each applied the way TensorFlow still accepts it at the moment of the call, and noted in
the report."""

from __future__ import annotations

import math
import numbers
import os
import warnings
from typing import Any, cast

from .. import _validate
from . import _tf_devices
from ._report import GpuInfo, GpuReport

POLICIES = ("mixed_float16", "mixed_bfloat16", "float32")
ALLOCATORS = ("cuda_malloc_async",)
GROWTH_ENV = "TF_FORCE_GPU_ALLOW_GROWTH"
ALLOCATOR_ENV = "TF_GPU_ALLOCATOR"
RESTART = "restart the runtime and call configure_gpu() before anything else uses TensorFlow"

# Tensor cores do float16 from compute capability 7.0 (Volta) and bfloat16 from 8.0 (Ampere); below
# that, mixed precision only adds casts.
_FAST_FROM = {"mixed_float16": (7, 0), "mixed_bfloat16": (8, 0)}

# The environment variables this module set, with their values, so that a later call never takes
# them for the user's own.
_ours: dict[str, str] = {}


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
    set_now = _environment(growth, allocator, _tf_devices.tensorflow_imported(), log)
    try:
        backend = _tf_devices.backend()
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


def _megabytes(value: object) -> int:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"memory_limit_mb must be a whole number of megabytes, got {type(value).__name__} {value!r}")
    number = cast(float, value)  # any real number (numpy's too), checked above
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"memory_limit_mb must be a whole number of megabytes, got {value!r}")
    if number <= 0:
        raise ValueError(f"memory_limit_mb must be a positive number of megabytes, got {value!r}")
    return int(number)


def _indices(value: object) -> list[int]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        items: list[object] = [value]
    elif isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"devices must be a GPU index or a list of GPU indices (ints), got {type(value).__name__} {value!r}"
        )
    else:
        items = list(value)
    indices: list[int] = []
    for item in items:
        if not isinstance(item, numbers.Integral) or isinstance(item, bool):
            raise TypeError(f"devices must hold GPU indices (ints), got {type(item).__name__} {item!r} in {value!r}")
        if item < 0:
            raise ValueError(f"devices must hold GPU indices from 0 up, got {item!r} in {value!r}")
        indices.append(int(item))
    return list(dict.fromkeys(indices))


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
                f"{GROWTH_ENV}={user!r} is set, but TensorFlow reads only 'true' or 'false' and ignores it; left as is"
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
        log.add(f"{ALLOCATOR_ENV}={allocator} is already set; it applies if it was set before TensorFlow started")
    elif current is not None:
        log.add(f"allocator={allocator!r} not applied: {ALLOCATOR_ENV}={current} is set in the environment; left as is")
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
    return str(backend.details(gpu).get("device_name") or gpu.name)


def _numbers(indices: list[int]) -> str:
    return ("GPU " if len(indices) == 1 else "GPUs ") + ", ".join(map(str, indices))


def _not_applied(what: str, error: Exception, log: _Log) -> None:
    if "after being initialized" in str(error):
        log.add(f"{what} not applied: TensorFlow has already started its GPUs ({error}); {RESTART}", restart=True)
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
    any_limit = any(limit is not None for limit, gpu in zip(limits, gpus, strict=True) if gpu in visible)
    infos = []
    for index, (gpu, limit) in enumerate(zip(gpus, limits, strict=True)):
        growth = forced == "true" if forced in ("true", "false") else not any_limit and bool(backend.memory_growth(gpu))
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
        found = ", ".join("GPU {} ({}) has {}.{}".format(g.index, g.name, *(g.compute_capability or ())) for g in slow)
        message = (
            f"mixed_precision={policy!r} pays off only from compute capability {need[0]}.{need[1]}; "
            f"{found}, where it is usually slower than float32: use 'float32' there"
        )
    else:
        return
    log.add(message)
    log.warnings.append(message)
