"""systemd's notification protocol (sd_notify) without libsystemd: one datagram per message.

Under ``Type=notify`` the unit is started when READY=1 arrives; with
``WatchdogSec`` systemd restarts the service unless WATCHDOG=1 keeps coming.
Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op.
"""
from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send ``message`` ("READY=1", "WATCHDOG=1", "STATUS=...", "STOPPING=1"); False when not under systemd."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path  # "@": an abstract socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(message.encode(), address)
        except OSError:
            return False
    return True


def watchdog_period_s() -> float | None:
    """How often to send WATCHDOG=1 (half of ``WatchdogSec``), or None when no watchdog is asked for this process."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0 or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6
