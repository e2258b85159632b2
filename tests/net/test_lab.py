"""The lab itself: a box's filesystem view, isolation from the host, the wire, and teardown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lab import Lab, registry, sweep
from lab._host import netns_inode, sh
from lab.capture import read_vrrp_pcap

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("_lab_session")]

REPO = Path(__file__).resolve().parents[2]


def _netns_names() -> set[str]:
    return {line.split()[0] for line in sh(["ip", "netns", "list"]).stdout.splitlines() if line}


def _processes_in_mount_ns(inode: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}/ns/mnt").st_ino == inode:
                found.append(int(entry))
        except OSError:
            continue
    return found


def test_box_sees_astlinux_paths(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    assert box.run("readlink /etc/keepalived").stdout.strip() == "/tmp/etc/keepalived"
    assert box.run("test -d /tmp/etc && test -d /var/state && test -d /mnt/kd").returncode == 0
    assert sorted(box.run("ls /sys/class/net").stdout.split()) == ["eth0", "lo"]
    assert box.exists(str(REPO / "astlinux_ha" / "__init__.py"))
    assert box.exists(sys.executable)
    addrs = [str(a) for a in box.addresses("eth0")]
    assert "inet 10.10.50.62/24 scope global eth0" in addrs


def test_box_changes_do_not_leak_to_host(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    probe = f"astlinux-ha-lab-probe-{os.getpid()}"
    for path in (f"/etc/{probe}", f"/usr/local/{probe}", f"/tmp/{probe}", f"/var/run/{probe}",
                 f"/var/{probe}", f"/var/state/{probe}"):
        box.write(path, "box only\n")
        assert box.read(path) == "box only\n"
        assert not os.path.exists(path), f"{path} leaked to the host"
    # Removing a host file inside the box leaves the host's copy alone.
    box.run("rm /etc/hostname")
    assert os.path.exists("/etc/hostname") and not box.exists("/etc/hostname")
    assert not os.path.lexists("/etc/keepalived") or not os.path.islink("/etc/keepalived")


def test_mnt_kd_survives_reboot_and_etc_does_not(lab):
    box = lab.add_box("master", "10.10.50.62/24")
    (box.kd_dir / "keepalived").mkdir()
    (box.kd_dir / "keepalived" / "keepalived.conf").write_text("! prepared by the test\n")
    assert box.read("/mnt/kd/keepalived/keepalived.conf") == "! prepared by the test\n"
    box.write("/mnt/kd/written-in-box", "kept\n")
    box.write("/etc/scratch", "lost\n")
    box.run("ip addr add 10.10.50.99/32 dev eth0")
    old_holder = box.holder_pid
    lab.reboot(box)
    assert box.holder_pid != old_holder
    assert box.read("/mnt/kd/written-in-box") == "kept\n"
    assert not box.exists("/etc/scratch")
    assert [a.address for a in box.addresses("eth0") if a.family == 2] == ["10.10.50.62"]


def test_cable_pull_is_carrier_loss_in_the_box(lab):
    master, backup, client = lab.add_seed_boxes()
    client.run("ping -c 1 -W 2 10.10.50.62")
    master.pull_cable()
    assert master.read("/sys/class/net/eth0/carrier").strip() == "0"
    assert client.run("ping -c 1 -W 1 10.10.50.62", check=False).returncode != 0
    master.replug_cable()
    assert master.read("/sys/class/net/eth0/carrier").strip() == "1"
    client.run("ping -c 1 -W 2 10.10.50.62")


def _send_vrrp(box, dst: str) -> None:
    """One VRRPv2-shaped packet (proto 112, TTL 255) from ``box`` to ``dst`` via a raw socket."""
    code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112); "
            "s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255); "
            "s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255); "
            "s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, "
            f"socket.inet_aton('{box.ip}')); "
            f"s.sendto(bytes([0x21, 50, 100, 1, 0, 1, 0, 0]) + bytes(4), ('{dst}', 0))")
    box.run([sys.executable, "-c", code])


def test_capture_sees_unicast_and_multicast_and_block_drops_only_between_pair(lab):
    master, backup, client = lab.add_seed_boxes()
    cap = lab.capture()
    # Whatever reaches backup's wire: a listener counts VRRP packets it receives.
    listener = backup.spawn([sys.executable, "-c", textwrap.dedent("""
        import socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
        mreq = socket.inet_aton('224.0.0.18') + socket.inet_aton('10.10.50.65')
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        while True:
            data, (src, _) = s.recvfrom(2048)
            print(src, flush=True)
        """)], name="vrrp-listener")
    time.sleep(0.3)  # let the listener bind before the first packet
    _send_vrrp(master, "10.10.50.65")
    _send_vrrp(master, "224.0.0.18")
    lab.block_vrrp(master, backup)
    _send_vrrp(master, "10.10.50.65")
    _send_vrrp(client, "10.10.50.65")  # not blocked: only the master-backup pair is
    lab.unblock_vrrp(master, backup)
    _send_vrrp(master, "10.10.50.65")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(cap.packets()) < 5:
        time.sleep(0.05)
    cap.stop()
    packets = cap.packets()
    assert [(p.src, p.dst) for p in packets] == [
        ("10.10.50.62", "10.10.50.65"), ("10.10.50.62", "224.0.0.18"),
        ("10.10.50.62", "10.10.50.65"), ("10.10.50.10", "10.10.50.65"),
        ("10.10.50.62", "10.10.50.65")]
    assert all(p.ttl == 255 and p.payload[:2] == bytes([0x21, 50]) for p in packets)
    assert packets == read_vrrp_pcap(cap.pcap)
    time.sleep(0.3)
    received = listener.log_text().split()
    # The one sent while blocked from master never arrived; the client's did.
    assert received == ["10.10.50.62", "10.10.50.62", "10.10.50.10", "10.10.50.62"]


def test_pinger_measures_a_gap(lab):
    master, backup, client = lab.add_seed_boxes()
    pinger = lab.pinger(client, "10.10.50.62")
    time.sleep(0.5)
    master.pull_cable()
    time.sleep(0.6)
    master.replug_cable()
    time.sleep(0.5)
    report = pinger.stop()
    assert 0.5 <= report.longest_gap < 1.5
    assert len(report.replies) > 30
    assert [g for g in report.gaps(0.3)], "the pulled cable shows up as a gap"


def test_holders(lab):
    master, backup, client = lab.add_seed_boxes()
    assert lab.holders("10.10.50.244") == []
    backup.run("ip addr add 10.10.50.244/32 dev eth0 label eth0:10")
    assert lab.holders("10.10.50.244") == ["backup"]
    assert "inet 10.10.50.244/32 scope global eth0:10" in [str(a) for a in backup.addresses()]


def test_teardown_leaves_nothing_even_when_the_body_raises():
    names: dict[str, object] = {}
    with pytest.raises(RuntimeError, match="test body failed"):
        with Lab() as lab:
            master, backup, _ = lab.add_seed_boxes()
            master.spawn(["sleep", "600"], name="sleeper")
            lab.capture()
            lab.block_vrrp(master, backup)
            names.update(
                lab=lab.name, dir=lab.dir,
                netns={b.netns for b in lab.boxes.values()} | {lab.switch.netns},
                mnt={os.stat(f"/proc/{b.holder_pid}/ns/mnt").st_ino
                     for b in lab.boxes.values()},
                net={netns_inode(b.netns) for b in lab.boxes.values()})
            raise RuntimeError("test body failed")
    assert not (names["netns"] & _netns_names())
    assert not Path(names["dir"]).exists()
    for inode in names["mnt"]:
        assert _processes_in_mount_ns(inode) == [], "a box's mount namespace is still alive"
    # No veth or bridge can survive its namespace; and nothing was mounted on the host.
    host_links = sh(["ip", "-o", "link", "show"]).stdout
    assert "pmaster" not in host_links and "pbackup" not in host_links
    assert names["lab"] not in Path("/proc/self/mountinfo").read_text()


def test_pytest_fixture_tears_down_a_failing_test(tmp_path):
    record = tmp_path / "lab-name"
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(textwrap.dedent(f"""
        def test_fails(seed_lab):
            open({str(record)!r}, "w").write(seed_lab.name)
            seed_lab.box("master").spawn(["sleep", "600"], name="sleeper")
            raise AssertionError("deliberate")
        """))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "lab_plugin",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test_file)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'tests'}"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "deliberate" in proc.stdout
    name = record.read_text()
    assert not [ns for ns in _netns_names() if ns.startswith(name)]
    assert not (registry.base_dir() / name).exists()


def test_sweep_removes_only_abandoned_labs(lab):
    lab.add_box("master", "10.10.50.62/24")
    # A crashed run: a lab whose owner pid is a process that has exited.
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan_name = f"{registry.PREFIX}{dead.pid}x{os.urandom(2).hex()}"
    orphan = Lab(orphan_name)
    orphan.add_box("client", "10.10.50.10/24")
    orphan._record.owner_pid, orphan._record.owner_start = dead.pid, 0.0
    orphan._record.save(orphan.dir)
    orphan_netns = orphan.box("client").netns
    try:
        removed = sweep()
        assert orphan_name in removed
        assert lab.name not in removed
        assert orphan_netns not in _netns_names()
        assert lab.box("master").netns in _netns_names()
        assert lab.box("master").run("true").returncode == 0
    finally:
        orphan.close()
