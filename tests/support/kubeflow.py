"""Kubeflow Notebooks' culling rule, APPLIED to a real server's answers (its controller needs a Kubernetes
API, which cannot run here), and the jupyter_server a Kubeflow notebook starts.

The rule, read from kubeflow/notebooks at commit 177b098656264a36af71ea27d098c2ad14999eec (branch
notebooks-v1), components/notebook-controller/controllers/culling_controller.go: every
IDLENESS_CHECK_PERIOD (1 minute by default) the controller GETs the notebook's
``/notebook/<namespace>/<name>/api/kernels`` (``getNotebookApiKernels``). Without an answer, or with no
kernels, the notebook's last-activity annotation stays as it was (``updateNotebookLastActivityAnnotation``).
If any kernel's ``execution_state`` is not "idle", the annotation becomes now; otherwise it becomes the
newest kernel ``last_activity`` (``updateTimestampFromKernelsActivity``, ``allKernelsAreIdle``). The
notebook is stopped once the annotation is older than CULL_IDLE_TIME (1440 minutes by default;
``notebookIsIdle``), and only where ENABLE_CULLING is "true" (it is "false" by default). The kernels'
``connections`` are decoded and never read: an open tab alone does not count. The annotation starts at
the time the controller first sees the notebook (``initializeAnnotations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tests.support.servers import JupyterServer
from tests.support.waiting import utc_time

NAMESPACE, NAME = "kubeflow-user", "training"


def kubeflow_server(folder: Path) -> JupyterServer:
    """A server started as Kubeflow's example notebook images start JupyterLab
    (components/example-notebook-servers/jupyter/s6/services.d/jupyterlab/run, same commit): at
    ``NB_PREFIX``, /notebook/<namespace>/<name>/, with an empty token and any origin allowed."""
    return JupyterServer(
        folder,
        base_url=f"/notebook/{NAMESPACE}/{NAME}/",
        token="",
        args=("--ServerApp.allow_origin=*", "--ServerApp.allow_remote_access=True"),
    )


@dataclass
class CullingRule:
    """One notebook's last-activity annotation under the rule, with CULL_IDLE_TIME in seconds (minutes in
    Kubeflow), as check() moves it."""

    cull_idle_time: float
    last_activity: datetime  # the annotation: when the controller first saw the notebook, to begin with

    def check(self, kernels: list[dict] | None, now: datetime) -> bool:
        """One idleness check, on ``kernels`` as api/kernels answered at ``now`` (None: no answer);
        True when the controller would stop the notebook."""
        if kernels:
            if any(kernel["execution_state"] != "idle" for kernel in kernels):
                self.last_activity = now
            else:
                self.last_activity = max(utc_time(kernel["last_activity"]) for kernel in kernels)
        return now > self.last_activity + timedelta(seconds=self.cull_idle_time)
