"""The AstLinux package (astlinux/package/astlinux-ha): its own install commands into an image.

The .mk's commands run through `make -f` on a stub that defines only what AstLinux's Buildroot
gives a package (TARGET_DIR, HOST_DIR, INSTALL, SED, PYTHON3_VERSION_MAJOR, and GENTARGETS cut
down to the install and uninstall steps), on the source tarball `make astlinux-tarball` makes,
as a Buildroot build extracts it. The three libraries go into the same site-packages at the
floors setup.cfg declares, as Buildroot's python-* packages would put them. Boxes then boot on
that image and the guide's walk-through runs through `service keepalived ...` there.

The box's python3 is Debian's (the host's /usr/bin/python3), standing in for Buildroot's: the
image's /usr/sbin and /usr/lib/pythonX.Y are laid over the box's the way the lab lays /etc, and
one .pth puts site-packages on its sys.path, as it is on Buildroot's python3. The byte-compiling
"host python" is that same interpreter, as Buildroot's host-python3 is the target's version.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from lab import Lab, astlinux
from lab.box import Box
from lab.service_walkthrough import run_service_walkthrough

REPO = Path(__file__).resolve().parents[2]
ASTLINUX = REPO / "astlinux"
PKG = ASTLINUX / "package" / "astlinux-ha"
BOX_PYTHON = "/usr/bin/python3"

# The part of AstLinux's package/Makefile.package.in that astlinux-ha.mk's install step uses.
STUB = r"""
INSTALL := install
SED := sed -i -e
define GENTARGETS
$$(BUILD_DIR)/astlinux-ha-$$(ASTLINUX_HA_VERSION)/.stamp_target_installed:
	$$(ASTLINUX_HA_INSTALL_TARGET_CMDS)
astlinux-ha-uninstall:
	$$(ASTLINUX_HA_UNINSTALL_TARGET_CMDS)
endef
include package/astlinux-ha/astlinux-ha.mk
"""


def _pins():
    spec = importlib.util.spec_from_file_location("pins", REPO / "tests/floor/pins.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setup_cfg_version() -> str:
    return re.search(r"(?m)^version = (\S+)$", (REPO / "setup.cfg").read_text()).group(1)


def box_python_version() -> str:
    return subprocess.run([BOX_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True).stdout.strip()


class Build:
    """A Buildroot-shaped tree: dl/ (the tarball), build/ (extracted), host/, target/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.version = setup_cfg_version()
        self.pyver = box_python_version()
        self.build_dir = root / "build"
        self.src = self.build_dir / f"astlinux-ha-{self.version}"
        self.host = root / "host"
        self.target = root / "target"
        self.site = self.target / f"usr/lib/python{self.pyver}/site-packages"

    def prepare(self) -> None:
        dl = self.root / "dl"
        proc = subprocess.run(["make", "-s", "-C", str(REPO), "astlinux-tarball",
                               f"TARBALL_DIR={dl}"], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        # GENTARGETS' extract step: the tarball's top directory stripped into the package dir.
        self.src.mkdir(parents=True)
        with tarfile.open(dl / f"astlinux-ha-{self.version}.tar.gz") as tar:
            for member in tar.getmembers():
                member.name = member.name.split("/", 1)[1] if "/" in member.name else "."
            tar.extractall(self.src, filter="tar")
        (self.host / "usr/bin").mkdir(parents=True)
        (self.host / "usr/bin/python3").symlink_to(BOX_PYTHON)
        # From AstLinux's target skeleton: the directories the .mk installs into.
        for sub in ("etc/init.d", "etc/runlevels/default"):
            (self.target / sub).mkdir(parents=True)

    def make(self, *targets: str, **variables: str) -> subprocess.CompletedProcess[str]:
        stub = self.root / "stub.mk"
        stub.write_text(STUB)
        args = {"TARGET_DIR": str(self.target), "HOST_DIR": str(self.host),
                "BUILD_DIR": str(self.build_dir), "PYTHON3_VERSION_MAJOR": self.pyver,
                **variables}
        return subprocess.run(["make", "-C", str(ASTLINUX), "-f", str(stub),
                               *[f"{k}={v}" for k, v in args.items()], *targets],
                              capture_output=True, text=True, check=False)

    def install(self) -> None:
        proc = self.make(str(self.src / ".stamp_target_installed"))
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def install_libraries(self) -> None:
        """pyroute2, psutil and python-daemon at setup.cfg's floors, nothing else: what the
        Config.in selects (python-daemon's lockfile and docutils are not needed to run)."""
        pins = [f"{name}=={version}" for name, version in _pins().floors().items()]
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                               "--target", str(self.site), *pins],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Build:
    build = Build(tmp_path_factory.mktemp("astlinux-package"))
    build.prepare()
    build.install()
    build.install_libraries()
    return build


def boot_box(lab: Lab, build: Build, name: str, address: str) -> Box:
    box = lab.add_box(name, address, image=build.target)
    for sub in ("usr/sbin", f"usr/lib/python{build.pyver}"):
        box.run(["mount", "-t", "overlay", "-o", f"lowerdir={build.target / sub}:/{sub}",
                 f"lab-image-{sub.replace('/', '-')}", f"/{sub}"])
    box.write(f"/usr/local/lib/python{build.pyver}/dist-packages/buildroot-site-packages.pth",
              f"/usr/lib/python{build.pyver}/site-packages\n")
    astlinux.install_helpers(box)
    return box


# --- the package's files, no boxes ----------------------------------------------------------

def test_the_package_says_the_versions_setup_cfg_says():
    assert re.search(r"(?m)^ASTLINUX_HA_VERSION = (\S+)$",
                     (PKG / "astlinux-ha.mk").read_text()).group(1) == setup_cfg_version()
    help_text = " ".join((PKG / "Config.in").read_text().split())
    for name, version in _pins().floors().items():
        assert f"python-{name.removeprefix('python-')} {version} or later" in help_text, name
    assert "before 0.10" in help_text  # pyroute2's upper bound, as in setup.cfg


def test_the_package_cannot_build_next_to_keepalived(tmp_path):
    build = Build(tmp_path)
    proc = build.make("-n", str(build.src / ".stamp_target_installed"),
                      BR2_PACKAGE_ASTLINUX_HA="y", BR2_PACKAGE_KEEPALIVED="y")
    assert proc.returncode != 0
    assert "astlinux-ha replaces keepalived" in proc.stderr
    assert build.make("-n", str(build.src / ".stamp_target_installed"),
                      BR2_PACKAGE_ASTLINUX_HA="y").returncode == 0


def test_install_lays_out_keepalived_s_paths_and_uninstall_removes_them(tmp_path):
    build = Build(tmp_path)
    build.prepare()
    build.install()
    etc = build.target / "etc"
    assert os.readlink(etc / "keepalived") == "/tmp/etc/keepalived"
    for link in ("S12keepalived", "K28keepalived"):
        assert os.readlink(etc / "runlevels/default" / link) == "../../init.d/keepalived"
    init = (etc / "init.d/keepalived").read_text()
    # Our init script, pointed at the package's launcher (boot has no /usr/local on PATH).
    assert init == (build.src / "init.d/keepalived").read_text().replace(
        "/usr/local/sbin/astlinux-ha", "/usr/sbin/astlinux-ha")
    assert 'KEEPALIVED_DAEMON:-/usr/sbin/astlinux-ha}' in init
    launcher = build.target / "usr/sbin/astlinux-ha"
    assert launcher.stat().st_mode & 0o777 == 0o755
    assert 'exec /usr/bin/python3 -m astlinux_ha "$@"' in launcher.read_text()

    # Every module but the lab's, each with a .pyc that Python uses without checking the .py.
    sources = (p.relative_to(build.src) for p in (build.src / "astlinux_ha").rglob("*.py"))
    shipped = {rel.as_posix() for rel in sources if "lab" not in rel.parts}
    installed = {p.relative_to(build.site).as_posix() for p in build.site.rglob("*.py")}
    assert installed == shipped and "astlinux_ha/daemon.py" in installed
    tag = sys.implementation.cache_tag
    for rel in installed:
        py = build.site / rel
        pyc = py.parent / "__pycache__" / f"{py.stem}.{tag}.pyc"
        header = pyc.read_bytes()[:8]
        assert header[:4] == importlib.util.MAGIC_NUMBER, rel
        assert int.from_bytes(header[4:8], "little") == 0b01, f"{rel}: not unchecked-hash"
    assert not (build.site / "lab").exists()

    proc = build.make("astlinux-ha-uninstall")
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.relative_to(build.target).as_posix() for p in build.target.rglob("*")
                  if not p.is_dir())
    assert left == []


# --- booted on the image ----------------------------------------------------------------------

CODE_FROM = re.compile(r"^# code object from '?(?P<path>[^']+?)'?$", re.M)


@pytest.mark.root
def test_walkthrough_on_the_package_image_runs_from_its_pyc_files(lab: Lab, image: Build):
    master = boot_box(lab, image, "master", "10.10.50.62/24")
    boot_box(lab, image, "backup", "10.10.50.65/24")
    assert master.run(["readlink", "/etc/runlevels/default/S12keepalived"]).stdout.strip() \
        == "../../init.d/keepalived"

    result = run_service_walkthrough(
        lab, (REPO / "etc/keepalived/keepalived.conf.master").read_text(),
        (REPO / "etc/keepalived/keepalived.conf.backup").read_text())
    assert result.ok, result.render() + "\n" + "\n".join(result.logs.values())
    timeline = "\n".join(text for _, text in result.timeline)
    assert timeline.count("# service keepalived init -> exit 0: Starting keepalived...") == 2

    # Start once more with Python saying where each module's code comes from: every astlinux_ha
    # module it loads (the daemon's, before it detaches) from the image's .pyc files, none
    # compiled from its .py.
    site = f"/usr/lib/python{image.pyver}/site-packages/astlinux_ha/"
    proc = astlinux.service(master, "init", env={"PYTHONVERBOSE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = [m["path"] for m in CODE_FROM.finditer(proc.stderr) if m["path"].startswith(site)]
    assert ours, proc.stderr[-3000:]
    from_source = [path for path in ours if not path.endswith(".pyc")]
    assert from_source == []
    loaded = {path.removeprefix(site) for path in ours}
    for module in ("daemon", "supervisor", "net/vrrp_socket", "config/parser"):
        stem = module.rsplit("/", 1)
        pyc = (f"{stem[0]}/" if len(stem) == 2 else "") + \
            f"__pycache__/{stem[-1]}.{sys.implementation.cache_tag}.pyc"
        assert pyc in loaded, sorted(loaded)
    assert len(astlinux.daemon_pids(master)) == 1
    assert master.exists("/var/run/keepalived.pid")
    assert astlinux.service(master, "stop").returncode == 0


@pytest.mark.root
def test_boot_and_shutdown_run_the_package_s_daemon_with_boot_s_path(lab: Lab, image: Build):
    box = boot_box(lab, image, "ha", "10.10.50.62/24")
    # Root in a directory others can write, holding a planted package: `python3 -m` would put
    # it first on sys.path; the launcher's PYTHONSAFEPATH keeps it out.
    box.write("/tmp/astlinux_ha/__init__.py", "")
    box.write("/tmp/astlinux_ha/__main__.py", "print('planted')\n")
    plain = box.run([BOX_PYTHON, "-m", "astlinux_ha", "--version"], cwd="/tmp", check=False)
    assert plain.stdout.strip() == "planted"  # the plant works on a bare `python3 -m`
    proc = box.run(["/usr/sbin/astlinux-ha", "--version"], cwd="/tmp", check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"astlinux-ha {image.version}")

    box.write("/mnt/kd/keepalived/keepalived.conf",
              (REPO / "etc/keepalived/keepalived.conf.master").read_text())
    proc = astlinux.boot(box)  # rc sysinit: S12keepalived init, PATH without /usr/local
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pids = astlinux.daemon_pids(box)
    assert len(pids) == 1 and box.read("/var/run/keepalived.pid").strip() == str(pids[0])
    argv = box.read(f"/proc/{pids[0]}/cmdline").split("\0")
    assert argv[:3] == ["/usr/bin/python3", "-m", "astlinux_ha"], argv
    lab.wait_for_holders("10.10.50.244", ["ha"], timeout=10)

    proc = astlinux.shutdown(box)  # rc shutdown: K28keepalived stop
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert astlinux.daemon_pids(box) == [] and not box.exists("/var/run/keepalived.pid")
    assert not box.holds("10.10.50.244")
