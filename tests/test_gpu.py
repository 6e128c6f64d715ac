"""colab_jsalive.gpu against real TensorFlow (CPU) in fresh processes, and its GPU-only branches
against an emulation of TensorFlow's GPU behaviour behind the module's one seam.

TensorFlow's device configuration is fixed per process, so each real scenario runs once in its own
process (tests/gpu_probe.py) and several tests read its result. Argument checks run in this process
and never reach TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import types
import warnings
from collections import namedtuple
from fractions import Fraction
from pathlib import Path

import pytest

from colab_jsalive import gpu
from colab_jsalive.gpu import _callback, _memory, _settings, _tf_devices

PROBE = Path(__file__).with_name("gpu_probe.py")
ENV_NAMES = (gpu.GROWTH_ENV, gpu.ALLOCATOR_ENV)

# TensorFlow's messages (tensorflow/python/eager/context.py, TF 2.21), raised by the emulation below.
# test_emulation_raises_tensorflows_own_messages checks the ones a CPU can show against real TensorFlow.
PHYSICAL = "Physical devices cannot be modified after being initialized"
VIRTUAL = "Virtual devices cannot be modified after being initialized"
VISIBLE = "Visible devices cannot be modified after being initialized"
GROWTH_WITH_VIRTUAL = "Cannot set memory growth on device when virtual devices configured"
DIFFER = "Memory growth cannot differ between GPU devices"
NO_ALLOCATOR_STATS = "Allocator stats not available for device '{device}'"


# --- real TensorFlow, one fresh process per scenario ------------------------------------------------


def run_probe(scenario: str, **environment: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(environment, TF_CPP_MIN_LOG_LEVEL="2")
    # The probe imports the installed colab_jsalive, as a user's process would.
    done = subprocess.run(
        [sys.executable, str(PROBE), scenario], capture_output=True, text=True, env=env, cwd=PROBE.parent, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


@pytest.fixture(scope="module")
def fresh() -> dict:
    """TensorFlow not imported and no TF_* variables set when configure_gpu() is first called."""
    return run_probe("fresh")


@pytest.fixture(scope="module")
def user_env() -> dict:
    """The user set TF_FORCE_GPU_ALLOW_GROWTH=false and TF_GPU_ALLOCATOR=cuda_malloc beforehand."""
    return run_probe("user_env", TF_FORCE_GPU_ALLOW_GROWTH="false", TF_GPU_ALLOCATOR="cuda_malloc")


@pytest.fixture(scope="module")
def started() -> dict:
    """The CPU split into two logical devices, TensorFlow started, then configure_gpu() and fit()."""
    return run_probe("started")


def test_importing_the_gpu_module_loads_neither_tensorflow_nor_keras(fresh):
    assert fresh["before_import"] == {"tensorflow": False, "keras": False}
    assert fresh["after_import"] == {"tensorflow": False, "keras": False}


def test_without_a_gpu_the_report_is_empty_names_tensorflow_and_says_why(fresh):
    report = fresh["first"]["value"]
    assert report["gpus"] == []
    assert report["tensorflow_version"].startswith("2.")
    assert any("TensorFlow sees no GPU" in note for note in report["notes"])
    assert report["restart_needed"] is False
    title = f"TensorFlow {report['tensorflow_version']}, mixed precision: mixed_float16"
    assert report["str"].startswith(title)
    assert "no GPU visible to TensorFlow" in report["str"]
    assert all(f"- {note}" in report["str"] for note in report["notes"])
    # Every note reaches the HTML, escaped: the notes quote values with ' characters.
    assert report["html"].count("<li>") == len(report["notes"])
    assert "&#x27;mixed_float16&#x27;" in report["html"] and "'" not in report["html"]


def test_before_tensorflow_is_imported_growth_and_allocator_are_set_in_the_environment(fresh):
    assert fresh["env_after_first"] == {
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        "TF_GPU_ALLOCATOR": "cuda_malloc_async",
    }
    notes = fresh["first"]["value"]["notes"]
    assert any(note.startswith("set TF_FORCE_GPU_ALLOW_GROWTH=true") for note in notes)
    assert any(note.startswith("set TF_GPU_ALLOCATOR=cuda_malloc_async") for note in notes)
    # A later call with TensorFlow imported leaves them alone.
    assert fresh["env_after_hidden"] == fresh["env_after_first"]


def test_mixed_float16_without_a_gpu_warns_and_still_sets_the_keras_policy(fresh):
    assert fresh["first"]["warnings"] == [
        "RuntimeWarning: mixed_precision='mixed_float16': no GPU is visible to TensorFlow, and on the CPU "
        "it is usually slower than float32"
    ]
    assert fresh["policy_after_first"] == "mixed_float16"
    assert fresh["hidden"]["warnings"] == []  # float32 never warns
    assert fresh["hidden"]["value"]["mixed_precision"] == "float32"


def test_a_gpu_index_tensorflow_does_not_have_is_a_value_error_listing_the_gpus(fresh):
    assert fresh["missing_device"]["error"] == "ValueError"
    assert fresh["missing_device"]["message"] == "devices=[0]: there is no GPU 0; TensorFlow sees no GPU"


def test_release_memory_says_gpu_memory_stays_reserved_and_the_policy_was_reset(fresh):
    message = fresh["release"]
    assert "keras.backend.clear_session()" in message
    assert "until the process ends" in message and "runtime restart" in message
    assert "freed" not in message.lower()
    assert "float32 again" in message and "configure_gpu(mixed_precision='mixed_float16')" in message
    assert fresh["policy_after_release"] == "float32"


def test_memory_info_reports_this_process_host_memory(fresh):
    assert fresh["memory"]["gpus"] == []
    assert fresh["memory"]["host_rss_bytes"] > 10 * 2**20  # TensorFlow alone takes hundreds of MB


def test_a_users_environment_values_are_never_overwritten_and_their_override_is_reported(user_env):
    user = {"TF_FORCE_GPU_ALLOW_GROWTH": "false", "TF_GPU_ALLOCATOR": "cuda_malloc"}
    assert user_env["env_before"] == user
    assert user_env["env_after_grow"] == user
    assert user_env["env_after_allocator"] == user
    grow = user_env["grow"]["value"]["notes"]
    assert any("TF_FORCE_GPU_ALLOW_GROWTH=false is set in the environment and overrides" in n for n in grow)
    allocator = user_env["allocator"]["value"]["notes"]
    refused = "allocator='cuda_malloc_async' not applied: TF_GPU_ALLOCATOR=cuda_malloc is set"
    assert any(n.startswith(refused) for n in allocator)
    assert any("TF_FORCE_GPU_ALLOW_GROWTH=false is set in the environment and agrees" in n for n in allocator)


def test_a_growth_value_tensorflow_ignores_is_reported_and_kept(user_env):
    assert user_env["env_after_garbled"]["TF_FORCE_GPU_ALLOW_GROWTH"] == "1"
    notes = user_env["garbled"]["value"]["notes"]
    assert any("TF_FORCE_GPU_ALLOW_GROWTH='1' is set, but TensorFlow reads only" in n for n in notes)


def test_with_tensorflow_imported_no_environment_variable_is_set(started):
    assert started["env_after_before_start"] == {"TF_FORCE_GPU_ALLOW_GROWTH": None, "TF_GPU_ALLOCATOR": None}
    assert started["env_after_after_start"] == {"TF_FORCE_GPU_ALLOW_GROWTH": None, "TF_GPU_ALLOCATOR": None}


def test_after_tensorflow_started_configure_gpu_does_not_raise_and_asks_for_a_restart(started):
    after = started["after_start"]
    assert "error" not in after, after
    report = after["value"]
    assert report["restart_needed"] is True
    refused = "allocator='cuda_malloc_async' not applied: TensorFlow is already imported"
    assert any(n.startswith(refused) for n in report["notes"])
    assert any("restart the runtime" in n for n in report["notes"])
    assert "RESTART NEEDED" in report["str"] and "Restart needed" in report["html"]
    assert report["mixed_precision"] == "float32"


def test_hiding_gpus_leaves_a_logical_split_of_the_cpu_in_place(started):
    assert "visible to TensorFlow: no GPU" in started["before_start"]["value"]["notes"]
    assert started["logical_cpus"] == ["/device:CPU:0", "/device:CPU:1"]
    assert started["logical_gpus"] == []
    assert started["memory"]["gpus"] == [] and started["memory"]["host_rss_bytes"] > 0


def test_keras_callback_keeps_alive_during_fit_and_logs_memory_per_epoch(started):
    fit = started["fit"]
    assert fit["is_callback"] is True
    assert fit["inject_calls"] == [{"label": "probe fit", "interval": 30}]
    assert fit["stops_seen_at_epoch_end"] == [0, 0]  # still running through both epochs
    assert fit["stops"] == [1]  # stopped once, when training ended
    history = fit["history"]
    assert len(history["host_rss_mb"]) == 2 and all(mb > 0 for mb in history["host_rss_mb"])
    assert not [key for key in history if key.startswith("gpu")]  # no GPU here


def test_keras_callback_outside_a_notebook_gets_an_inactive_handle_after_one_warning(started):
    assert started["real_inject"]["handle_type"] == "KeepAlive"
    assert started["real_inject"]["active"] is False
    assert len(started["real_inject"]["warnings"]) == 1


def test_emulation_raises_tensorflows_own_messages(started):
    """Checks the messages the emulation of TensorFlow's GPU-only branches raises against real
    TensorFlow, where a CPU split into logical devices shows the same errors."""
    errors = started["real_errors"]
    assert errors["growth_with_virtual_devices"] == ["ValueError", GROWTH_WITH_VIRTUAL]
    assert errors["virtual_after_start"] == ["RuntimeError", VIRTUAL]
    assert errors["visible_after_start"] == ["RuntimeError", VISIBLE]
    assert errors["unchanged_visible_gpus_after_start"] is None  # only a change raises
    assert errors["cpu_details"] == {}
    # A CPU answers get_memory_info with zeros or with this error, depending on the machine; where it
    # is the error, the emulation's message for a GPU without allocator stats must be TensorFlow's.
    answer = errors["cpu_memory_info"]
    if isinstance(answer, list):
        assert answer == ["ValueError", NO_ALLOCATOR_STATS.format(device="CPU:0")]
    else:
        assert set(answer) >= {"current", "peak"}


# --- in this process, without TensorFlow --------------------------------------------------------------


@pytest.fixture(autouse=True)
def _environment_restored(monkeypatch):
    # configure_gpu() sets TF_* variables in this process; setenv records each one's original state
    # (or absence) so that monkeypatch restores it after the test.
    for name in ENV_NAMES:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(_settings, "_ours", {})


@pytest.fixture
def no_tensorflow(monkeypatch):
    """Fail the test if configure_gpu() reaches TensorFlow."""

    def reached():
        raise AssertionError("TensorFlow was reached before the arguments were checked")

    monkeypatch.setattr(_tf_devices, "backend", reached)


WHOLE = "memory_limit_mb must be a whole number of megabytes, got "
POSITIVE = "memory_limit_mb must be a positive number of megabytes, got "
GROWTH = "memory_growth must be True or False, got "
DEVICES = "devices must be a GPU index or a list of GPU indices (ints), got "
INDICES = "devices must hold GPU indices (ints), got "
BAD_ARGUMENTS = [
    ({"memory_limit_mb": "4G"}, TypeError, WHOLE + "str '4G'"),
    ({"memory_limit_mb": True}, TypeError, WHOLE + "bool True"),
    ({"memory_limit_mb": [1024]}, TypeError, WHOLE + "list [1024]"),
    ({"memory_limit_mb": 0}, ValueError, POSITIVE + "0"),
    ({"memory_limit_mb": -512}, ValueError, POSITIVE + "-512"),
    ({"memory_limit_mb": 1.5}, ValueError, WHOLE + "1.5"),
    ({"memory_limit_mb": math.nan}, ValueError, WHOLE + "nan"),
    ({"memory_limit_mb": math.inf}, ValueError, WHOLE + "inf"),
    ({"memory_growth": "yes"}, TypeError, GROWTH + "str 'yes'"),
    ({"memory_growth": 1}, TypeError, GROWTH + "int 1"),
    ({"devices": "0"}, TypeError, DEVICES + "str '0'"),
    ({"devices": 0.0}, TypeError, DEVICES + "float 0.0"),
    ({"devices": [0, "1"]}, TypeError, INDICES + "str '1' in [0, '1']"),
    ({"devices": [True]}, TypeError, INDICES + "bool True in [True]"),
    ({"devices": [-1]}, ValueError, "devices must hold GPU indices from 0 up, got -1 in [-1]"),
    (
        {"mixed_precision": "fp16"},
        ValueError,
        "mixed_precision must be one of 'mixed_float16', 'mixed_bfloat16', 'float32', got 'fp16'",
    ),
    ({"mixed_precision": True}, TypeError, "mixed_precision must be a str, got bool True"),
    ({"allocator": "cuda"}, ValueError, "allocator must be one of 'cuda_malloc_async', got 'cuda'"),
    ({"allocator": 1}, TypeError, "allocator must be a str, got int 1"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_ARGUMENTS)
def test_a_bad_argument_is_an_error_naming_it_and_its_value_before_tensorflow_loads(
    no_tensorflow, kwargs, error, message
):
    with pytest.raises(error) as caught:
        gpu.configure_gpu(**kwargs)
    assert str(caught.value) == message
    assert os.environ.get(gpu.GROWTH_ENV) is None  # nothing was set either


def test_memory_growth_and_a_memory_limit_together_are_a_value_error_before_touching_devices(no_tensorflow):
    with pytest.raises(ValueError, match=r"memory_growth=True and memory_limit_mb=2048 exclude each other"):
        gpu.configure_gpu(memory_growth=True, memory_limit_mb=2048)


def test_missing_tensorflow_is_an_import_error_naming_the_extra_and_sets_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # how Python blocks an import
    with pytest.raises(ImportError) as caught:
        gpu.configure_gpu(allocator="cuda_malloc_async")
    assert 'pip install "colab-jsalive[tensorflow]"' in str(caught.value)
    assert os.environ.get(gpu.GROWTH_ENV) is None and os.environ.get(gpu.ALLOCATOR_ENV) is None


def test_memory_info_without_tensorflow_imported_leaves_it_unimported(monkeypatch, no_tensorflow):
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    info = gpu.memory_info()
    assert info.gpus == [] and info.notes == ["TensorFlow is not imported, so it holds no GPU memory"]
    assert info.host_rss_bytes > 0
    assert str(info).startswith("host RSS: ")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_host_memory_comes_from_proc_when_psutil_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    before = _vm_rss()
    from_proc = _memory.host_rss()
    after = _vm_rss()
    assert isinstance(from_proc, int) and from_proc % 1024 == 0
    # The kernel's own figure, read just before and after (the process may grow or shrink a little in
    # between: a megabyte of slack, against a unit or a process mixed up).
    assert min(before, after) - 2**20 <= from_proc <= max(before, after) + 2**20, (before, from_proc, after)


def _vm_rss() -> int:
    """This process's resident memory in bytes, as /proc/self/status says it (in kB)."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_release_memory_without_keras_or_tensorflow_says_there_was_nothing_to_clear(monkeypatch):
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    message = gpu.release_memory()
    assert message.startswith("Keras is not imported, so there was no Keras state to clear.")
    assert message.endswith("TensorFlow is not imported, so it holds no GPU memory.")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"intervall": 30}, r"passes its arguments to inject\(\): got an unexpected keyword argument"),
        ({"stop": True}, r"starts and stops the keep-alive itself; it takes no stop argument"),
    ],
)
def test_keras_callback_rejects_an_argument_inject_does_not_take_before_loading_keras(monkeypatch, kwargs, message):
    def build():
        raise AssertionError("Keras was loaded before the arguments were checked")

    monkeypatch.setattr(_callback, "_callback_type", build)
    with pytest.raises(TypeError, match=message):
        gpu.keras_callback(**kwargs)


# --- GPU-only branches: an emulation of TensorFlow behind the module's seam ---------------------------

PhysicalDevice = namedtuple("PhysicalDevice", "name device_type")  # tf.config.PhysicalDevice's shape


class EmulatedTF:
    """An emulation of TensorFlow's GPU-only device configuration, standing in for
    colab_jsalive.gpu._tf_devices.TFDevices. It raises TensorFlow's errors, with TensorFlow's messages,
    at the moments TensorFlow raises them (context.py, TF 2.21): a setter raises after start() only
    when the value changes; growth differing between visible GPUs fails at start() unless a logical
    device configuration exists; growth cannot be set where one exists."""

    version = "2.21.0"

    def __init__(self, capabilities, names=None):
        self.physical = [PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(len(capabilities))]
        names = names or ["Emulated GPU"] * len(capabilities)
        self._details = {
            device: {"device_name": name, "compute_capability": capability}
            for device, name, capability in zip(self.physical, names, capabilities, strict=True)
        }
        self.visible = list(self.physical)
        self.growth = dict.fromkeys(self.physical)  # get_memory_growth on a fresh GPU is None
        self.limits = {}  # the logical device configuration, as one memory limit per GPU
        self.memory = {}  # GPU index -> {"current", "peak"}; a GPU missing here has no allocator stats
        self.policy = "float32"
        self.started = False

    def start(self):
        """What TensorFlow's first tensor does: check the configuration, then fix it."""
        if not self.started and not self.limits and len({self.growth[d] for d in self.visible}) > 1:
            raise ValueError(DIFFER)
        self.started = True

    def gpus(self):
        return list(self.physical)

    def visible_gpus(self):
        return list(self.visible)

    def details(self, gpu):
        return dict(self._details[gpu])

    def memory_growth(self, gpu):
        return self.growth[gpu]

    def memory_limit_mb(self, gpu):
        return self.limits.get(gpu)

    def set_memory_growth(self, gpu, enabled):
        if gpu in self.limits:
            raise ValueError(GROWTH_WITH_VIRTUAL)
        if self.growth[gpu] == enabled:
            return
        if self.started:
            raise RuntimeError(PHYSICAL)
        self.growth[gpu] = enabled

    def set_memory_limit(self, gpu, megabytes):
        if self.limits.get(gpu) == megabytes:
            return
        if self.started:
            raise RuntimeError(VIRTUAL)
        self.limits[gpu] = megabytes

    def set_visible_gpus(self, gpus):
        if list(gpus) == self.visible:
            return
        if self.started:
            raise RuntimeError(VISIBLE)
        self.visible = list(gpus)

    def logical_gpu_count(self):
        self.start()
        return len(self.visible)

    def memory_info(self, device):
        self.start()
        answer = self.memory.get(int(device.split(":")[1]))
        if answer is None:  # a device whose allocator keeps no statistics
            raise ValueError(NO_ALLOCATOR_STATS.format(device=device))
        return answer

    def set_policy(self, name):
        self.policy = name


@pytest.fixture
def emulate(monkeypatch):
    """emulate(capabilities, names=None, imported=False, started=False) -> EmulatedTF, installed behind
    _tf_devices.backend; ``imported`` puts a stand-in in sys.modules["tensorflow"], as a started TensorFlow
    is an imported one."""

    def install(capabilities, names=None, imported=False, started=False):
        fake = EmulatedTF(capabilities, names)
        monkeypatch.setattr(_tf_devices, "backend", lambda: fake)
        if started:
            fake.start()
        if imported or started:
            monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
        else:
            monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
        return fake

    return install


def quietly(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning expected where this is used
        return gpu.configure_gpu(**kwargs)


def test_emulation_refuses_to_start_when_growth_differs_between_gpus(emulate):
    """The emulation of TensorFlow's GPU-only branches fails at start when growth differs, as
    TensorFlow does; the two-GPU test below relies on that."""
    fake = emulate([(7, 5), (7, 5)])
    fake.set_memory_growth(fake.physical[0], True)
    with pytest.raises(ValueError, match=DIFFER):
        fake.start()


def test_growth_on_one_gpu_is_set_in_the_environment_and_the_api_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: one GPU, memory growth by default."""
    fake = emulate([(7, 5)], names=["Tesla T4"])
    report = quietly()
    assert fake.growth == {fake.physical[0]: True}
    assert os.environ[gpu.GROWTH_ENV] == "true"
    assert report.gpus == [gpu.GpuInfo(0, "Tesla T4", (7, 5), True, None, True)]
    assert "memory growth on for GPU 0: TensorFlow takes GPU memory as it needs it" in " ".join(report.notes)
    assert report.restart_needed is False
    fake.start()


def test_growth_on_two_gpus_is_set_on_both_so_tensorflow_starts_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: a user had set GPU 1's growth off by hand."""
    fake = emulate([(8, 0), (8, 0)])
    fake.set_memory_growth(fake.physical[1], False)
    report = quietly()
    assert list(fake.growth.values()) == [True, True]
    assert [g.memory_growth for g in report.gpus] == [True, True]
    assert "memory growth on for GPUs 0, 1" in " ".join(report.notes)
    fake.start()  # would raise "Memory growth cannot differ between GPU devices"


def test_explicit_growth_off_is_set_on_every_gpu_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: False, not None, on every GPU, so none differs."""
    fake = emulate([(8, 0), (8, 0)])
    fake.set_memory_growth(fake.physical[0], True)
    report = quietly(memory_growth=False)
    assert list(fake.growth.values()) == [False, False]
    assert gpu.GROWTH_ENV not in os.environ
    assert [g.memory_growth for g in report.gpus] == [False, False]
    fake.start()


def test_a_memory_limit_is_set_on_every_gpu_and_growth_is_off_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: memory_limit_mb on two GPUs."""
    fake = emulate([(7, 0), (7, 0)])
    report = quietly(memory_limit_mb=2048.0)
    assert list(fake.limits.values()) == [2048, 2048]
    assert list(fake.growth.values()) == [None, None]
    assert gpu.GROWTH_ENV not in os.environ
    assert [(g.memory_limit_mb, g.memory_growth) for g in report.gpus] == [(2048, False), (2048, False)]
    assert "memory limit 2048 MB for GPUs 0, 1" in " ".join(report.notes)
    assert "2048 MB" in str(report)
    fake.start()


def test_a_later_limit_removes_the_growth_variable_an_earlier_call_set_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: configure_gpu() then configure_gpu(memory_limit_mb=...)
    before TensorFlow starts; the variable this module set must not force growth over the limit."""
    emulate([(7, 5)])
    quietly()
    assert os.environ[gpu.GROWTH_ENV] == "true"
    report = quietly(memory_limit_mb=1024)
    assert gpu.GROWTH_ENV not in os.environ
    assert "removed TF_FORCE_GPU_ALLOW_GROWTH=true, which an earlier configure_gpu() call set" in report.notes
    assert report.gpus[0].memory_growth is False


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({}, PHYSICAL), ({"memory_limit_mb": 1024}, VIRTUAL), ({"devices": [1]}, VISIBLE)],
    ids=["growth", "limit", "devices"],
)
def test_after_start_a_change_becomes_a_restart_note_emulation(emulate, kwargs, error):
    """Emulation of TensorFlow's GPU-only branches: each 'cannot be modified after being initialized'
    error becomes a note saying a runtime restart is needed."""
    fake = emulate([(7, 5), (7, 5)], started=True)
    report = quietly(**kwargs)
    assert report.restart_needed is True
    restart_notes = [n for n in report.notes if error in n]
    assert restart_notes and all("restart the runtime" in n for n in restart_notes)
    assert gpu.GROWTH_ENV not in os.environ  # TensorFlow was imported
    assert fake.visible == fake.physical and not fake.limits  # nothing changed
    assert [g.memory_growth for g in report.gpus] == [False, False]  # what really applies


@pytest.mark.parametrize(
    ("kwargs", "configured_before_start"),
    [
        ({"devices": [0, 1]}, True),
        ({"memory_limit_mb": 1024}, True),
        ({}, True),
        # TensorFlow counts None -> False as a change and raises, but growth is off all the same.
        ({"memory_growth": False}, False),
    ],
    ids=["devices", "limit", "growth", "growth-off-never-set"],
)
def test_after_start_a_setting_already_in_effect_needs_no_restart_emulation(emulate, kwargs, configured_before_start):
    """Emulation of TensorFlow's GPU-only branches: asking again for what TensorFlow started with."""
    fake = emulate([(7, 5), (7, 5)], imported=True)
    if configured_before_start:
        quietly(**kwargs)
    fake.start()
    report = quietly(**kwargs)
    assert report.restart_needed is False, report.notes
    assert not [n for n in report.notes if "not applied" in n]


def test_growth_on_a_gpu_that_has_a_memory_limit_is_a_note_not_a_crash_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: a logical device configuration exists already
    (so TensorFlow is imported)."""
    fake = emulate([(7, 5)], imported=True)
    fake.set_memory_limit(fake.physical[0], 4096)
    report = quietly(memory_growth=True)
    assert fake.growth[fake.physical[0]] is None
    note = next(n for n in report.notes if n.startswith("memory growth not applied to GPU 0"))
    assert "a memory limit (logical device configuration) is set there" in note and "restart" in note
    assert report.restart_needed is True
    assert report.gpus[0].memory_limit_mb == 4096 and report.gpus[0].memory_growth is False


def test_a_gpu_index_that_does_not_exist_is_a_value_error_listing_the_gpus_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: two GPUs, devices asks for a third."""
    fake = emulate([(7, 5), (8, 6)], names=["Tesla T4", "RTX A6000"])
    with pytest.raises(ValueError) as caught:
        gpu.configure_gpu(devices=[1, 2])
    assert str(caught.value) == ("devices=[1, 2]: there is no GPU 2; TensorFlow sees GPU 0 (Tesla T4), 1 (RTX A6000)")
    assert fake.visible == fake.physical
    assert gpu.GROWTH_ENV not in os.environ  # a call that raises sets nothing


def test_devices_hides_the_other_gpus_and_configures_the_rest_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: devices=2 of three GPUs."""
    fake = emulate([(7, 5)] * 3)
    report = quietly(devices=2)
    assert fake.visible == [fake.physical[2]]
    assert fake.growth[fake.physical[2]] is True and fake.growth[fake.physical[0]] is None
    assert [g.visible for g in report.gpus] == [False, False, True]
    assert "visible to TensorFlow: GPU 2; hidden: 0, 1" in report.notes
    assert "no" in str(report).splitlines()[3].split()  # GPU 0's row says it is hidden
    fake.start()


@pytest.mark.parametrize("capability", [(6, 1), (3, 7)])
def test_mixed_float16_warns_below_compute_capability_7_emulation(emulate, capability):
    """Emulation of TensorFlow's GPU-only branches: a GPU without float16 tensor cores."""
    fake = emulate([capability], names=["Old GPU"])
    with pytest.warns(RuntimeWarning) as caught:
        report = gpu.configure_gpu(mixed_precision="mixed_float16")
    expected = "GPU 0 (Old GPU) has {}.{}, where it is usually slower than float32".format(*capability)
    assert len(caught) == 1 and expected in str(caught[0].message)
    assert "pays off only from compute capability 7.0" in str(caught[0].message)
    assert fake.policy == "mixed_float16" and report.mixed_precision == "mixed_float16"


@pytest.mark.parametrize("capability", [(7, 0), (8, 6), (9, 0)])
def test_mixed_float16_does_not_warn_from_compute_capability_7_emulation(emulate, capability):
    """Emulation of TensorFlow's GPU-only branches: GPUs with float16 tensor cores."""
    fake = emulate([capability])
    report = quietly(mixed_precision="mixed_float16")
    assert fake.policy == "mixed_float16"
    assert not [n for n in report.notes if "slower" in n]


def test_mixed_bfloat16_warns_below_compute_capability_8_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: bfloat16 tensor cores came with compute capability 8.0."""
    emulate([(7, 5)])
    with pytest.warns(RuntimeWarning, match=r"pays off only from compute capability 8\.0"):
        gpu.configure_gpu(mixed_precision="mixed_bfloat16")
    emulate([(8, 0)])
    assert quietly(mixed_precision="mixed_bfloat16").mixed_precision == "mixed_bfloat16"


def test_a_users_growth_variable_decides_the_reported_growth_emulation(emulate, monkeypatch):
    """Emulation of TensorFlow's GPU-only branches: TF_FORCE_GPU_ALLOW_GROWTH=false wins over the API."""
    fake = emulate([(7, 5)])
    monkeypatch.setenv(gpu.GROWTH_ENV, "false")
    report = quietly()
    assert os.environ[gpu.GROWTH_ENV] == "false"
    assert fake.growth[fake.physical[0]] is True  # asked for through the API all the same
    assert report.gpus[0].memory_growth is False  # but the variable decides
    assert any("overrides memory growth" in n for n in report.notes)


def test_the_report_escapes_every_value_in_html_and_lines_up_in_text_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: GPU names with HTML in them."""
    emulate([(7, 5), None], names=["<b>GPU & co</b>", "plain"])
    report = quietly()
    page = report._repr_html_()
    assert "&lt;b&gt;GPU &amp; co&lt;/b&gt;" in page and "<b>GPU" not in page
    assert page.count("<tr>") == 3 and "<td>?</td>" in page  # header, two GPUs; capability unknown
    lines = str(report).splitlines()
    assert lines[1].split("  ")[0] == "GPU" and set(lines[2]) == {"-", " "}
    assert lines[3].startswith("0    <b>GPU & co</b>  7.5") and lines[4].startswith("1    plain")


def test_memory_info_and_the_epoch_logs_cover_every_gpu_emulation(emulate, monkeypatch):
    """Emulation of TensorFlow's GPU-only branches: get_memory_info on two GPUs, and the keys the Keras
    callback writes from it."""
    fake = emulate([(7, 5), (7, 5)], started=True)
    fake.memory = {0: {"current": 3 * 2**20, "peak": 5 * 2**20}, 1: {"current": 0, "peak": 2**19}}
    info = gpu.memory_info()
    assert info.gpus == [gpu.GpuMemory(0, 3 * 2**20, 5 * 2**20), gpu.GpuMemory(1, 0, 2**19)]
    assert "GPU:0: 3.0 MB in use, peak 5.0 MB" in str(info)
    logs = _callback.epoch_logs()
    assert logs["gpu0_mem_current_mb"] == 3.0 and logs["gpu0_mem_peak_mb"] == 5.0
    assert logs["gpu1_mem_current_mb"] == 0.0 and logs["gpu1_mem_peak_mb"] == 0.5
    assert logs["host_rss_mb"] > 0


@pytest.mark.parametrize("stats", [{"current": 0, "peak": 0}, None], ids=["zeros", "not-available"])
def test_memory_info_handles_each_answer_tensorflow_gives_emulation(emulate, stats):
    """Emulation of TensorFlow's GPU-only branches: get_memory_info answers zeros on some devices and
    raises "Allocator stats not available" on others; either way memory_info() and the Keras
    callback's logs go on, and a device without statistics is named in a note."""
    fake = emulate([(7, 5), (7, 5)], started=True)
    fake.memory = {0: {"current": 2**20, "peak": 2**21}, **({1: stats} if stats is not None else {})}
    info = gpu.memory_info()
    assert info.gpus[0] == gpu.GpuMemory(0, 2**20, 2**21)
    logs = _callback.epoch_logs()
    if stats is None:
        assert [g.index for g in info.gpus] == [0]
        (note,) = info.notes
        assert note.startswith("GPU:1: TensorFlow reports no memory use") and "GPU:1" in str(info)
        assert "gpu1_mem_current_mb" not in logs
    else:
        assert info.gpus[1] == gpu.GpuMemory(1, 0, 0) and info.notes == []
        assert logs["gpu1_mem_current_mb"] == 0.0
    assert logs["gpu0_mem_peak_mb"] == 2.0


def test_memory_limit_accepts_any_whole_number_emulation(emulate):
    """Emulation of TensorFlow's GPU-only branches: whole numbers of other types become an int."""
    fake = emulate([(7, 5)])
    quietly(memory_limit_mb=Fraction(3072, 1))
    assert fake.limits[fake.physical[0]] == 3072 and type(fake.limits[fake.physical[0]]) is int


def test_keras_callback_joins_a_running_keepalive_and_leaves_it_to_its_owner(monkeypatch):
    """`with inject(): fit(callbacks=[keras_callback()])` must stay exception-safe: no replacement."""
    import colab_jsalive
    from colab_jsalive import gpu
    from colab_jsalive._session import Status

    running = Status(
        active=True,
        frontend="jupyterlab",
        beats=3,
        unanswered=0,
        last_beat=None,
        started=None,
        expires=None,
        interval=60.0,
        label="outer",
    )
    calls = []
    monkeypatch.setattr(colab_jsalive, "status", lambda: running)
    monkeypatch.setattr(colab_jsalive, "inject", lambda **kw: calls.append(kw))
    callback = gpu.keras_callback(label="inner")
    callback.on_train_begin()
    callback.on_train_end()
    assert calls == [] and callback.keepalive is None
