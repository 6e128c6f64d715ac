"""A real JupyterHub for the tests: the hub, configurable-http-proxy, jupyterhub-idle-culler, and one
single-user server per user, each running JupyterLab with its own kernel culler. Loopback only.

People reach it as they would any hub: they log in on the hub's login page and open notebooks through
the proxy at /user/NAME/, with the hub's cookies and no token in any URL. The tests themselves watch it
without being seen as activity: they ask the hub's REST API directly (not through the proxy, which
counts every request it carries as the user's activity) and each single-user server directly, with
`no_track_activity`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.ports import free_port
from tests.support.servers import jupyter_dirs, write_notebook
from tests.support.waiting import wait_for

# configurable-http-proxy, installed from the npm registry by `make setup` into the virtual environment.
PROXY = Path(sys.prefix) / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

_CONFIG = """\
import sys
c = get_config()
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = {hub_bind_url!r}
c.JupyterHub.db_url = "sqlite:///hub.sqlite"
c.JupyterHub.cookie_secret_file = "cookie_secret"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.api_url = {proxy_api_url!r}
c.ConfigurableHTTPProxy.pid_file = "proxy.pid"

c.JupyterHub.authenticator_class = "dummy"  # any name and password: the tests' people
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"  # a local process per user, home in users/NAME
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.args = {singleuser_args!r}


# Each server's port as the tests choose theirs, from tests/support/ports.py (a kernel once took the port the
# hub had chosen for a server before it bound it, and the hub waited on the kernel's socket until it
# gave up).
import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location("colab_jsalive_test_ports", {ports!r})
ports = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ports)


# How often each server pings its kernels' WebSockets, in ms, by user ("" for all others; none: the
# server's default of 30 s). The proxy counts the pages' answers as activity.
PINGS = {pings!r}


def prepare(spawner):
    spawner.port = ports.free_port()
    ping = PINGS.get(spawner.user.name, PINGS.get(""))
    if ping is not None:
        spawner.args = [*spawner.args, f"--ServerApp.tornado_settings={{{{'ws_ping_interval': {{ping}}}}}}"]


c.Spawner.pre_spawn_hook = prepare
c.Spawner.environment = {{
    "JUPYTERHUB_ACTIVITY_INTERVAL": {activity_interval!r},  # how often a server reports activity
    "PYTHONWARNINGS": "ignore",
    # Private Jupyter directories, never the machine's; their configuration gives kernels their ports
    # as tests/support/ports.py does.
    **{jupyter_dirs!r},
}}

# How often the hub reads activity from the proxy, and the smallest change it records (default 300 s
# and 30 s): short, so that a culler timeout of seconds means what it says.
c.JupyterHub.last_activity_interval = {last_activity_interval!r}
c.JupyterHub.activity_resolution = 1

c.JupyterHub.services = [
    {{"name": "idle-culler",
      "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                  "--timeout={hub_cull_timeout}", "--cull-every={hub_cull_every}"]}},
    {{"name": "tests", "api_token": {api_token!r}}},
]
c.JupyterHub.load_roles = [
    {{"name": "idle-culler", "services": ["idle-culler"],
      "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}},
    {{"name": "tests", "services": ["tests"],
      "scopes": ["list:users", "read:users", "read:servers", "admin:server_state", "proxy",
                 "access:servers"]}},
]
"""


class JupyterHub:
    """A real JupyterHub in ``workdir``, with a kernel culler in every single-user server and the hub's
    idle culler for whole servers."""

    def __init__(
        self,
        workdir: Path,
        kernel_cull_timeout: int,
        hub_cull_timeout: int,
        activity_interval: int = 5,
        ws_ping_intervals: dict[str, float] | None = None,
    ):
        self.workdir = Path(workdir)
        self.homes = self.workdir / "users"
        self.port = free_port()
        self.hub_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"  # the proxy: what people use
        self.hub_api = f"http://127.0.0.1:{self.hub_port}/hub/api/"  # the hub itself: what the tests ask
        self.api_token = secrets.token_hex(16)
        self.kernel_cull_timeout = kernel_cull_timeout
        self.hub_cull_timeout = hub_cull_timeout
        self.activity_interval = activity_interval
        # Seconds between a server's pings on its kernel WebSockets, by user ("" for every other user).
        self.ws_ping_intervals = ws_ping_intervals or {}
        self.process: subprocess.Popen | None = None

    def start(self) -> JupyterHub:
        if not PROXY.exists():
            raise FileNotFoundError(f"configurable-http-proxy is not installed at {PROXY}: run make setup")
        self.homes.mkdir(parents=True, exist_ok=True)
        singleuser_args = [
            f"--MappingKernelManager.cull_idle_timeout={self.kernel_cull_timeout}",
            "--MappingKernelManager.cull_interval=2",
            "--MappingKernelManager.cull_connected=True",
            "--allow-root",  # test machines may run as root
            # The tests drive JupyterLab through its app object; news and update checks would try the
            # internet on every page load.
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        config = _CONFIG.format(
            bind_url=self.url,
            hub_bind_url=f"http://127.0.0.1:{self.hub_port}",
            proxy=str(PROXY),
            proxy_api_url=f"http://127.0.0.1:{free_port()}",
            homes=str(self.homes),
            singleuser_args=singleuser_args,
            activity_interval=str(self.activity_interval),
            last_activity_interval=self.activity_interval,
            hub_cull_timeout=self.hub_cull_timeout,
            hub_cull_every=self.activity_interval,
            api_token=self.api_token,
            ports=str(Path(__file__).with_name("ports.py")),
            pings={name: round(seconds * 1000) for name, seconds in self.ws_ping_intervals.items()},
            jupyter_dirs=jupyter_dirs(self.workdir / "jupyter"),
        )
        (self.workdir / "jupyterhub_config.py").write_text(config)
        self.log = open(self.workdir / "hub.log", "wb")  # noqa: SIM115 (open while the hub runs; stop() closes it)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", "jupyterhub_config.py"],
            cwd=self.workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONWARNINGS="ignore"),
        )
        try:
            wait_for(self._answers, 90, "JupyterHub to answer")
        except BaseException:
            self.stop()  # a hub that does not answer is stopped before the error is raised
            raise
        return self

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "the hub exited: see hub.log"
        with urllib.request.urlopen(f"{self.url}hub/api/", timeout=5):  # through the proxy: all is up
            return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # the hub stops the servers it spawned and the proxy it started
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def api(self, path: str):
        """GET from the hub's REST API, straight to the hub (never through the proxy)."""
        request = urllib.request.Request(f"{self.hub_api}{path}", headers={"Authorization": f"token {self.api_token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def user(self, name: str) -> HubUser:
        return HubUser(self, name)


class HubUser:
    """One person on the hub: their home, their server, and how the tests see both."""

    def __init__(self, hub: JupyterHub, name: str):
        self.hub = hub
        self.name = name
        self.home = hub.homes / name
        self.home.mkdir(parents=True, exist_ok=True)
        self.base_url = f"/user/{name}/"

    def new_notebook(self, name: str) -> str:
        return write_notebook(self.home, name)

    def page_url(self, frontend: str, notebook: str, workspace: str = "", port: int | None = None) -> str:
        """A notebook's address through the proxy, in JupyterLab or the classic notebook: no token;
        the hub's cookies authenticate."""
        assert port is None and frontend in ("jupyterlab", "nbclassic"), frontend
        if frontend == "jupyterlab":
            path = f"lab/workspaces/{workspace or secrets.token_hex(4)}/tree/{notebook}"
        else:
            from nbclassic import nbclassic_path

            path = f"{nbclassic_path()}/notebooks/{notebook}".lstrip("/")
        return f"{self.hub.url}user/{self.name}/{path}"

    def login(self, context, next_url: str) -> None:
        """Log in on the hub's login page and start the server with its "Launch Server" button, as a
        person does. The login page leaves as soon as the hub shows the server starting: the notebook
        opens in a page of its own, and a second JupyterLab loading in this one would only cost time
        (and once left Playwright's close waiting on it)."""
        page = context.new_page()
        path = next_url.removeprefix(self.hub.url.rstrip("/"))
        page.goto(f"{self.hub.url}hub/login?next={urllib.request.quote(path)}", wait_until="domcontentloaded")
        page.fill("input[name=username]", self.name)
        page.fill("input[name=password]", "any password")
        page.click("input[type=submit], button[type=submit]")
        page.click("#start", timeout=30_000)  # the hub's "Server not running" page
        page.wait_for_url(lambda url: "/spawn-pending/" in url or "/hub/" not in url, timeout=60_000)
        page.goto("about:blank")
        page.close()
        wait_for(lambda: self.server_url() is not None, 120, f"the hub to start {self.name}'s server")

    def server_model(self) -> dict | None:
        """The hub's record of this user's default server, or None when it has none (never started,
        or stopped by the culler)."""
        return self.hub.api(f"users/{self.name}").get("servers", {}).get("")

    def server_running(self) -> bool:
        model = self.server_model()
        return bool(model and model.get("ready"))

    def server_url(self) -> str | None:
        """The single-user server's own address (the proxy's target for /user/NAME/), if it runs."""
        if not self.server_running():
            return None
        target = self.hub.api("proxy").get(self.base_url, {}).get("target")
        return f"{target}{self.base_url}" if target else None

    def kernel_ids(self) -> set[str]:
        """The kernels this user's server has, asked of the server directly, unseen as activity.

        Empty only on a successful answer: the server's list without the kernel, or the hub's record
        that the server is stopped (its kernels ended with it). Any other failure raises, so that an
        error is never taken for a cull."""
        url = self.server_url()
        if url is None:
            return set()
        request = urllib.request.Request(
            f"{url}api/kernels?no_track_activity=1", headers={"Authorization": f"token {self.hub.api_token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return {k["id"] for k in json.loads(response.read())}
        except (urllib.error.URLError, ConnectionError):
            if not self.server_running():
                return set()  # the hub stopped the server between the two questions
            raise

    def server_environment(self) -> dict[str, str]:
        """The environment the hub gave this user's server (its API token among it), from /proc."""
        pid = self.server_model()["state"]["pid"]
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
