"""The one place ``colab_jsalive.gpu`` imports TensorFlow and calls its device configuration.

The test machine has no GPU, so the tests swap ``backend()`` for an emulation of TensorFlow's GPU-only
behaviour. Keep it a thin pass-through, one method per ``tf.config`` call, so that the emulation
only has to copy TensorFlow's behaviour and nothing of ours.
"""

from __future__ import annotations

import sys
from typing import Any


class TFDevices:
    """``tf.config`` (and Keras' policy call) as ``colab_jsalive.gpu`` uses them."""

    def __init__(self, tf: Any) -> None:
        self._tf = tf

    @property
    def version(self) -> str:
        return self._tf.__version__

    # These calls leave the runtime unstarted.
    def gpus(self) -> list[Any]:
        return self._tf.config.list_physical_devices("GPU")

    def visible_gpus(self) -> list[Any]:
        return self._tf.config.get_visible_devices("GPU")

    def details(self, gpu: Any) -> dict[str, Any]:
        return self._tf.config.experimental.get_device_details(gpu)

    def memory_growth(self, gpu: Any) -> bool | None:
        return self._tf.config.experimental.get_memory_growth(gpu)

    def memory_limit_mb(self, gpu: Any) -> int | None:
        configs = self._tf.config.get_logical_device_configuration(gpu)
        return sum(c.memory_limit for c in configs) if configs else None

    # These raise RuntimeError("... cannot be modified after being initialized") once the runtime has
    # started, and only when the value changes.
    def set_memory_growth(self, gpu: Any, enabled: bool) -> None:
        self._tf.config.experimental.set_memory_growth(gpu, enabled)

    def set_memory_limit(self, gpu: Any, megabytes: int) -> None:
        config = self._tf.config.LogicalDeviceConfiguration(memory_limit=megabytes)
        self._tf.config.set_logical_device_configuration(gpu, [config])

    def set_visible_gpus(self, gpus: list[Any]) -> None:
        self._tf.config.set_visible_devices(gpus, "GPU")

    # These start the runtime.
    def logical_gpu_count(self) -> int:
        return len(self._tf.config.list_logical_devices("GPU"))

    def memory_info(self, device: str) -> dict[str, int]:
        return self._tf.config.experimental.get_memory_info(device)

    # Keras' global dtype policy: every layer built afterwards uses it.
    def set_policy(self, name: str) -> None:
        import keras

        keras.mixed_precision.set_global_policy(name)


INSTALL = 'pip install "colab-jsalive[tensorflow]"'


def backend() -> Any:
    """TensorFlow's device configuration, behind the one seam the tests replace."""
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            f"colab_jsalive.gpu needs TensorFlow, which cannot be imported here ({error}). "
            f"Install it with: {INSTALL}, then restart the runtime."
        ) from error
    return TFDevices(tf)


def tensorflow_imported() -> bool:
    # sys.modules["tensorflow"] = None is how one blocks an import, so look at the value.
    return sys.modules.get("tensorflow") is not None
