"""Real parts for the tests, the demo and the benchmarks, one module per layer, each built on the ones
before it:

- waiting: wait_for() and holds_for(), the one way anything here waits; utc_time() for the APIs' times;
- ports: ports for servers and kernels, from below the range the system hands out;
- servers: a real jupyter_server with private Jupyter directories, and two loopback helpers;
- hub: a real JupyterHub, its proxy, its idle culler, and a kernel culler in every user's server;
- browser: headless Chromium, and the frontends this environment serves;
- pages: one notebook open in one frontend, driven as a person drives it;
- kernels: clients of a kernel without a browser (ZMQ, or the server's WebSocket), and a kernel alone;
- trials: notebooks left in users' situations, with and without the keep-alive, watched side by side.

Nothing here is emulated. Test modules import from here and from conftest.py, never from each other.
"""
