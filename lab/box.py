"""A box: one virtual AstLinux machine (a network namespace plus its own mount namespace).

Commands enter both namespaces through ``nsenter --target HOLDER --mount --net``, where HOLDER
is the box's holder process (see mounts.py). nsenter execs the command itself, so a spawned
daemon's pid is the Popen's pid.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute

from . import mounts
from ._host import LabError, kill_netns_members, netns_inode, sh

BOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}

Command = str | Sequence[str]


@dataclass(frozen=True)
class Address:
    """One address on a box interface, as netlink reports it."""

    address: str
    prefixlen: int
    family: int
    scope: str
    label: str | None
    ifname: str

    def __str__(self) -> str:
        """The ``ip addr`` way: ``inet 10.10.50.244/32 scope global eth0:10``."""
        kind = "inet" if self.family == 2 else "inet6"
        label = f" {self.label}" if self.label and self.family == 2 else ""
        return f"{kind} {self.address}/{self.prefixlen} scope {self.scope}{label}"


class Spawned:
    """A long-lived process in a box; its stdout and stderr go to ``log_path`` on the host."""

    def __init__(self, popen: subprocess.Popen[bytes], name: str, log_path: Path) -> None:
        self.popen, self.name, self.log_path = popen, name, log_path

    @property
    def pid(self) -> int:
        """The process id (nsenter exec'd the command, so this is the daemon itself)."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the process (not its group: keepalived forwards to its children)."""
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait; SIGKILL the whole group if it outlives ``timeout``."""
        self.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return self.popen.wait(5)

    def log_text(self) -> str:
        """Everything the process has written so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Box:
    """A virtual AstLinux box on the lab's switch. Made by :meth:`Lab.add_box`."""

    def __init__(self, lab_name: str, name: str, address: str, host_dir: Path,
                 switch_netns: str, holder_pid: int | None = None,
                 image_dir: Path | None = None) -> None:
        self.name = name
        self.address = address
        self.ip = address.split("/")[0]
        self.netns = f"{lab_name}-{name}"
        self.port = f"p{name}"
        self.host_dir = host_dir
        self.kd_dir = host_dir / "kd"
        self.log_dir = host_dir / "logs"
        self.switch_netns = switch_netns
        self.holder_pid = holder_pid
        self.image_dir = image_dir  # read-only layers over /etc and /usr/local (see mounts.py)
        self.spawned: list[Spawned] = []
        # Interface name -> its switch-side port: eth0 is cabled at creation, others by
        # add_interface (rehearse builds boxes with the interfaces their configs name).
        self.ports: dict[str, str] = {"eth0": self.port}
        self._ipr: IPRoute | None = None
        self._ipr_lock = threading.Lock()

    # -- lifecycle (driven by Lab) ------------------------------------------------------------

    def create_network(self) -> None:
        """The namespace, ``lo``, and ``eth0`` cabled to switch port ``p<name>``."""
        sh(["ip", "netns", "add", self.netns])
        sh(["ip", "-n", self.switch_netns, "link", "add", self.port, "type", "veth",
            "peer", "name", "eth0", "netns", self.netns])
        sh(["ip", "-n", self.switch_netns, "link", "set", self.port, "master", "br0", "up"])
        self._configure_eth0()

    def _configure_eth0(self) -> None:
        sh(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        sh(["ip", "-n", self.netns, "addr", "flush", "dev", "eth0"])
        if self.address:  # "": a box whose eth0 is cabled but has no address of its own
            sh(["ip", "-n", self.netns, "addr", "add", self.address, "dev", "eth0"])
        sh(["ip", "-n", self.netns, "link", "set", "eth0", "up"])

    def boot(self, timeout: float = 10.0) -> None:
        """Start the holder process that owns the box's mount namespace and wait until ready."""
        self.kd_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        holder = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "unshare", "--mount", "--propagation", "private",
             "sh", "-c", mounts.holder_script(
                 str(self.kd_dir), None if self.image_dir is None else str(self.image_dir))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        assert holder.stdout is not None
        ready = _read_line(holder.stdout, timeout)
        if ready.strip() != mounts.READY:
            holder.kill()
            _, err = holder.communicate(timeout=5)
            raise LabError(f"box {self.name}: mount namespace setup failed: {err.decode().strip()}")
        holder.stdout.close()
        assert holder.stderr is not None
        holder.stderr.close()
        # ip netns exec and unshare both exec, so the Popen pid is the sleeping holder itself.
        self.holder_pid = holder.pid

    def reboot(self, timeout: float = 10.0) -> None:
        """Power-cycle: every process dies, eth0 gets back only its own address, and a fresh
        mount namespace is built; /mnt/kd keeps its contents."""
        self.stop_processes()
        self._configure_eth0()
        self.boot(timeout)

    def stop_processes(self) -> None:
        """Stop the box's daemons (SIGTERM, then SIGKILL) and every process in its namespace."""
        for proc in self.spawned:
            if proc.alive():
                proc.stop(timeout=3)
        self.spawned.clear()
        inode = netns_inode(self.netns)
        if inode is not None:
            kill_netns_members(inode)
        self.holder_pid = None

    def close(self) -> None:
        """Stop everything and release the netlink handle (the Lab deletes the namespace)."""
        self.stop_processes()
        with self._ipr_lock:
            if self._ipr is not None:
                self._ipr.close()
                self._ipr = None

    # -- commands -----------------------------------------------------------------------------

    def enter_argv(self, cwd: str = "/") -> list[str]:
        """The argv prefix that runs a command inside this box."""
        if self.holder_pid is None:
            raise LabError(f"box {self.name} is not booted")
        return ["nsenter", f"--target={self.holder_pid}", "--mount", "--net", f"--wd={cwd}"]

    def _argv(self, cmd: Command, cwd: str) -> list[str]:
        body = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return self.enter_argv(cwd) + ["--"] + body

    @staticmethod
    def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {"PATH": BOX_PATH, "HOME": "/root", "LANG": "C",
               "TERM": os.environ.get("TERM", "dumb")}
        env.update(extra or {})
        return env

    def run(self, cmd: Command, *, check: bool = True, timeout: float = 30.0,
            input: str | None = None, env: Mapping[str, str] | None = None,
            cwd: str = "/") -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` in the box (a string goes through /bin/sh -c) and capture its output.

        With ``check`` a non-zero exit raises LabError carrying the command's stderr.
        """
        argv = self._argv(cmd, cwd)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  input=input, env=self._env(env), check=False)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"box {self.name}: timed out after {timeout}s: {cmd!r}") from exc
        if check and proc.returncode != 0:
            raise LabError(f"box {self.name}: {cmd!r} exited {proc.returncode}: "
                           f"{proc.stderr.strip()}")
        return proc

    def spawn(self, cmd: Command, *, name: str | None = None,
              env: Mapping[str, str] | None = None, cwd: str = "/") -> Spawned:
        """Start a long-lived process in the box; it is stopped at teardown at the latest."""
        label = name or (cmd.split()[0] if isinstance(cmd, str) else Path(cmd[0]).name)
        log_path = self.log_dir / f"{label}.{len(self.spawned)}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(self._argv(cmd, cwd), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=self._env(env),
                                     start_new_session=True)
        proc = Spawned(popen, label, log_path)
        self.spawned.append(proc)
        return proc

    def write(self, path: str, text: str, mode: int | None = None) -> None:
        """Write a file inside the box (parent directories are created)."""
        script = 'mkdir -p "$(dirname "$1")" && cat > "$1"'
        if mode is not None:
            script += f' && chmod {mode:o} "$1"'
        self.run(["/bin/sh", "-c", script, "sh", path], input=text)

    def read(self, path: str) -> str:
        """The contents of a file inside the box."""
        return self.run(["cat", path]).stdout

    def exists(self, path: str) -> bool:
        """True when ``path`` exists in the box (symlinks followed)."""
        return self.run(["test", "-e", path], check=False).returncode == 0

    # -- network ------------------------------------------------------------------------------

    def _netlink(self) -> IPRoute:
        if self._ipr is None:
            # flags=0: never create the namespace if it is gone; groups=0: no event backlog.
            self._ipr = IPRoute(netns=self.netns, flags=0, groups=0)
        return self._ipr

    def addresses(self, ifname: str | None = "eth0") -> list[Address]:
        """Addresses on ``ifname`` (every interface when None), read over netlink in the box."""
        with self._ipr_lock:
            ipr = self._netlink()
            names = {link["index"]: link.get("IFLA_IFNAME") for link in ipr.get_links()}
            found = []
            for msg in ipr.get_addr():
                dev = names.get(msg["index"], "?")
                if ifname is not None and dev != ifname:
                    continue
                found.append(Address(msg.get("IFA_ADDRESS"), msg["prefixlen"], msg["family"],
                                     _SCOPES.get(msg["scope"], str(msg["scope"])),
                                     msg.get("IFA_LABEL"), dev))
            return found

    def holds(self, ip: str) -> bool:
        """True when any interface of the box has address ``ip``."""
        return any(addr.address == ip for addr in self.addresses(None))

    def add_address(self, cidr: str, ifname: str = "eth0") -> None:
        """Add one more address to the box (e.g. IPv6 next to the seed's IPv4). IPv6 skips
        duplicate address detection, so the address is usable at once, as a configured
        static address on a quiet LAN would be a second later."""
        extra = ["nodad"] if ":" in cidr else []
        self.run(["ip", "addr", "add", cidr, "dev", ifname, *extra])

    def add_interface(self, ifname: str, bridge: str, port: str) -> None:
        """One more interface ``ifname``, cabled to switch port ``port`` on ``bridge``."""
        sh(["ip", "-n", self.switch_netns, "link", "add", port, "type", "veth",
            "peer", "name", ifname, "netns", self.netns])
        sh(["ip", "-n", self.switch_netns, "link", "set", port, "master", bridge, "up"])
        sh(["ip", "-n", self.netns, "link", "set", ifname, "up"])
        self.ports[ifname] = port

    def pull_cable(self, ifname: str = "eth0") -> None:
        """Unplug: the switch-side port goes down, so the box's ``ifname`` loses carrier."""
        sh(["ip", "-n", self.switch_netns, "link", "set", self.ports[ifname], "down"])

    def replug_cable(self, ifname: str = "eth0") -> None:
        """Plug the cable back in."""
        sh(["ip", "-n", self.switch_netns, "link", "set", self.ports[ifname], "up"])

    def __repr__(self) -> str:
        return f"Box({self.name!r}, {self.address!r}, netns={self.netns!r})"


def _read_line(stream, timeout: float) -> str:
    """One line from a pipe, or '' when nothing arrives in time (the holder then failed)."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].decode(errors="replace") if result else ""


def quote(cmd: Sequence[str]) -> str:
    """A shell-quoted rendering of ``cmd`` for logs and timelines."""
    return " ".join(shlex.quote(part) for part in cmd)


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; returns its last verdict."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
