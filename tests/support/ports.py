"""Ports for the servers and kernels the tests start, from below the range the system hands out for
port 0.

Every process that binds port 0 or opens a connection takes a port from that range at any moment: the
browsers, each HTTP request, each kernel's five ports. A server or a kernel binds its port a second or
more after it was chosen, and meanwhile another process can take it. Seen: a kernel took the port the
hub had chosen for a user's server; kernels failed with "Address already in use" and were restarted,
resetting the sockets of the pages and clients connected to them. Below that range only these
functions hand out ports, at random: servers from the lower five thousand, kernels from the upper.

The hub's configuration and each test server's load this file by its path (it imports nothing of the
tests, nothing heavy, and is not found by a package name another installed package could shadow).
"""

from __future__ import annotations

import random
import socket


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            return int(ports.read().split()[0])
    except OSError:
        return 32768  # Linux's default


def free_port(ip: str = "127.0.0.1", taken: set[int] | frozenset[int] = frozenset(), kernel: bool = False) -> int:
    """A port free on ``ip`` now, from the ten thousand below the range the system hands out for port 0,
    and not in ``taken``: from their upper half for a ``kernel``, from the lower half for a server. The
    halves keep a kernel from taking a port chosen for a server that has not bound it yet (seen when
    the hub's users' kernels took theirs below the range too: "Bad status line" from a kernel's socket
    where the hub waited for a user's server)."""
    start = _ephemeral_start()
    bottom = max(1024, start - 10000)
    middle = (bottom + start) // 2
    low, high = (middle, start - 1) if kernel else (bottom, middle - 1)
    while True:
        port = random.randint(low, high)
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind((ip, port))
            except OSError:
                continue
            return port


def kernels_take_free_ports() -> None:
    """From now on, jupyter_client in this process (a Jupyter server's, or the tests' own for kernels
    they start without one) picks every kernel's ports with free_port() instead of binding port 0.
    Its LocalPortCache.find_available_port(ip) is the one place it picks them, in every version the
    project supports (jupyter_client 7.4 to 8)."""
    from jupyter_client.connect import LocalPortCache

    def find_available_port(self, ip: str) -> int:
        port = free_port(ip, self.currently_used_ports, kernel=True)  # two kernels of one server never share one
        self.currently_used_ports.add(port)
        return port

    LocalPortCache.find_available_port = find_available_port
