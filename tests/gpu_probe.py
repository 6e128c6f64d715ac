"""Runs one colab_jsalive.gpu scenario against real TensorFlow in a fresh process; prints RESULT{json}.

TensorFlow's device configuration is per process, so tests/test_gpu.py starts this once per scenario:
``python tests/gpu_probe.py fresh|user_env|started``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import warnings

ENV_NAMES = ("TF_FORCE_GPU_ALLOW_GROWTH", "TF_GPU_ALLOCATOR")


def env() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ENV_NAMES}


def report_dict(report) -> dict:
    return {**dataclasses.asdict(report), "str": str(report), "html": report._repr_html_()}


def calling(function, *args, **kwargs) -> dict:
    """The result (or error) of a call, with the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = function(*args, **kwargs)
        except Exception as error:
            return {"error": type(error).__name__, "message": str(error), "warnings": []}
    return {"value": value, "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}


def fresh() -> dict:
    """TensorFlow not imported and the environment clean when configure_gpu() is first called."""
    out = {"before_import": {m: m in sys.modules for m in ("tensorflow", "keras")}}
    from colab_jsalive import gpu

    out["after_import"] = {m: m in sys.modules for m in ("tensorflow", "keras")}
    first = calling(gpu.configure_gpu, mixed_precision="mixed_float16", allocator="cuda_malloc_async")
    out["first"] = {**first, "value": report_dict(first["value"])}
    out["env_after_first"] = env()

    import keras

    out["policy_after_first"] = keras.mixed_precision.global_policy().name
    out["missing_device"] = calling(gpu.configure_gpu, devices=[0])
    hidden = calling(gpu.configure_gpu, devices=[], mixed_precision="float32")
    out["hidden"] = {**hidden, "value": report_dict(hidden["value"])}
    out["env_after_hidden"] = env()
    keras.mixed_precision.set_global_policy("mixed_float16")
    out["release"] = gpu.release_memory()
    out["policy_after_release"] = keras.mixed_precision.global_policy().name
    out["memory"] = dataclasses.asdict(gpu.memory_info())
    return out


def user_env() -> dict:
    """The user set TensorFlow's variables before anything ran; they must survive, and be reported."""
    from colab_jsalive import gpu

    out = {"env_before": env()}
    grow = calling(gpu.configure_gpu)
    out["grow"] = {**grow, "value": report_dict(grow["value"])}
    out["env_after_grow"] = env()
    allocator = calling(gpu.configure_gpu, memory_growth=False, allocator="cuda_malloc_async")
    out["allocator"] = {**allocator, "value": report_dict(allocator["value"])}
    out["env_after_allocator"] = env()
    os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "1"
    garbled = calling(gpu.configure_gpu)
    out["garbled"] = {**garbled, "value": report_dict(garbled["value"])}
    out["env_after_garbled"] = env()
    return out


def started() -> dict:
    """A logical split of the CPU, TensorFlow imported before configure_gpu(), then started; then a
    real fit() with the Keras callback."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    split = [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    tf.config.set_logical_device_configuration(cpu, split)

    import colab_jsalive
    from colab_jsalive import gpu

    out = {}
    before_start = calling(gpu.configure_gpu, devices=[])
    out["before_start"] = {**before_start, "value": report_dict(before_start["value"])}
    out["env_after_before_start"] = env()

    tf.constant(1.0)  # starts the runtime: the device setup is fixed from here on
    out["logical_cpus"] = [d.name for d in tf.config.list_logical_devices("CPU")]
    out["logical_gpus"] = [d.name for d in tf.config.list_logical_devices("GPU")]
    after_start = calling(gpu.configure_gpu, devices=[], allocator="cuda_malloc_async", mixed_precision="float32")
    out["after_start"] = {**after_start, "value": report_dict(after_start["value"])}
    out["env_after_after_start"] = env()
    out["memory"] = dataclasses.asdict(gpu.memory_info())
    out["real_errors"] = real_errors(tf, cpu)

    import keras
    import numpy as np

    calls: list[dict] = []
    stops: list[int] = []
    stops_seen_at_epoch_end: list[int] = []

    class Handle:
        active = True

        def stop(self) -> None:
            stops.append(len(calls))

    def recording_inject(**kwargs):
        calls.append(kwargs)
        return Handle()

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            stops_seen_at_epoch_end.append(len(stops))

    real_inject = colab_jsalive.inject
    colab_jsalive.inject = recording_inject
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 4), dtype="float32"), rng.random((32, 1), dtype="float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = gpu.keras_callback(label="probe fit", interval=30)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[callback, Spy()])
    out["fit"] = {
        "history": history.history,
        "inject_calls": calls,
        "stops": stops,
        "stops_seen_at_epoch_end": stops_seen_at_epoch_end,
        "is_callback": isinstance(callback, keras.callbacks.Callback),
    }

    colab_jsalive.inject = real_inject
    real = gpu.keras_callback()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[real])
    out["real_inject"] = {
        "handle_type": type(real.keepalive).__name__,
        "active": real.keepalive.active,
        "warnings": [str(w.message) for w in caught if "inject() does nothing here" in str(w.message)],
    }
    return out


def real_errors(tf, cpu) -> dict:
    """TensorFlow's own errors that a CPU can show, through the seam where it reaches them: the
    emulation in test_gpu.py must raise the same ones on its GPUs."""
    from colab_jsalive.gpu._tf_devices import TFDevices

    devices = TFDevices(tf)
    out = {"cpu_details": devices.details(cpu)}
    attempts = {
        # What this answers depends on the CPU: zeros on some machines, "Allocator stats not
        # available" on others, with the same TensorFlow. Recorded, never expected to be one of them.
        "cpu_memory_info": lambda: devices.memory_info("CPU:0"),
        # The CPU is split into logical devices, as a GPU with a memory limit is.
        "growth_with_virtual_devices": lambda: devices.set_memory_growth(cpu, True),
        "virtual_after_start": lambda: tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()]
        ),
        "visible_after_start": lambda: tf.config.set_visible_devices([], "CPU"),
        "unchanged_visible_gpus_after_start": lambda: devices.set_visible_gpus([]),
    }
    for name, attempt in attempts.items():
        try:
            out[name] = attempt()
        except Exception as error:
            out[name] = [type(error).__name__, str(error)]
    return out


if __name__ == "__main__":
    scenario = {"fresh": fresh, "user_env": user_env, "started": started}[sys.argv[1]]
    print("RESULT" + json.dumps(scenario(), default=str))
