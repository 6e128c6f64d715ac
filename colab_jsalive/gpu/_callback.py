"""The Keras callback: a keep-alive while ``fit()`` trains, and memory use in each epoch's logs. Keras
is imported when the first callback is made, not before."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from ._memory import MB, memory_info

if TYPE_CHECKING:
    from .._keepalive import KeepAlive


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
    from .._keepalive import inject

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

    class KeepAliveCallback(keras.callbacks.Callback):  # type: ignore[misc]  # Keras has no types
        """Runs colab_jsalive.inject() while fit() trains and logs memory use per epoch."""

        def __init__(self, inject_kwargs: dict[str, Any]) -> None:
            super().__init__()
            self.inject_kwargs = dict(inject_kwargs)
            self.keepalive: KeepAlive | None = None

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            import colab_jsalive  # looked up now, so the package's inject() is the one called

            # A keep-alive that already runs (``with inject(): fit(...)``) belongs to its owner, who
            # stops it even when fit() raises; replacing it would undo that.
            if colab_jsalive.status().active:
                self.keepalive = None
                return
            self.keepalive = colab_jsalive.inject(**self.inject_kwargs)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            # Keras hands the same dict to History and the progress bar, which come after us.
            if logs is not None:
                logs.update(epoch_logs())

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            if self.keepalive is not None:
                self.keepalive.stop()

    KeepAliveCallback.__module__ = "colab_jsalive.gpu"
    return KeepAliveCallback


def epoch_logs() -> dict[str, float]:
    info = memory_info()
    logs = {} if info.host_rss_bytes is None else {"host_rss_mb": round(info.host_rss_bytes / MB, 1)}
    for gpu in info.gpus:
        logs[f"gpu{gpu.index}_mem_current_mb"] = round(gpu.current_bytes / MB, 1)
        logs[f"gpu{gpu.index}_mem_peak_mb"] = round(gpu.peak_bytes / MB, 1)
    return logs
