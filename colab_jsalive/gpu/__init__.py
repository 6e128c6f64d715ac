"""GPU settings for long TensorFlow runs: memory growth or a limit, visible GPUs, mixed precision.

>>> from colab_jsalive.gpu import configure_gpu, keras_callback, memory_info
>>> print(configure_gpu())          # first thing in the notebook: memory growth on every GPU
>>> model.fit(x, y, epochs=50, callbacks=[keras_callback()])
>>> print(memory_info())

``import colab_jsalive.gpu`` loads neither TensorFlow nor Keras; they load on first use. TensorFlow
fixes its GPU setup when its runtime starts (the first tensor or model); after that most settings
need a runtime restart, and the report says which.

One module per concern: ``_settings`` (configure_gpu), ``_report`` (what it found and did), ``_memory``
(memory_info, release_memory), ``_callback`` (keras_callback), and ``_tf_devices``, the one place that
imports TensorFlow and the one seam the GPU-only tests replace.
"""

from ._callback import keras_callback
from ._memory import GpuMemory, MemoryInfo, memory_info, release_memory
from ._report import GpuInfo, GpuReport
from ._settings import ALLOCATOR_ENV, ALLOCATORS, GROWTH_ENV, POLICIES, configure_gpu

__all__ = [
    "ALLOCATORS",
    "ALLOCATOR_ENV",
    "GROWTH_ENV",
    "POLICIES",
    "GpuInfo",
    "GpuMemory",
    "GpuReport",
    "MemoryInfo",
    "configure_gpu",
    "keras_callback",
    "memory_info",
    "release_memory",
]
