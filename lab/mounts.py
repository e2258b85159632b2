"""The mount namespace of a box: the script its holder process runs to build the AstLinux view.

The holder is started as ``ip netns exec NS unshare --mount --propagation private sh -c SCRIPT``:
``ip netns exec`` remounts /sys for the box's network namespace (so /sys/class/net shows the
box's interfaces), ``unshare`` gives a private mount namespace that nothing propagates out of, and
the script then lays out:

  /etc, /usr/local, /var  overlays on the host's, upper layers on a scratch tmpfs (thrown away)
  /tmp                    an overlay the same way, with /tmp/etc (AstLinux's /etc links point
                          there); the host's files stay readable, nothing written reaches it
  /run (= /var/run)       tmpfs; /var/state tmpfs
  /mnt                    an overlay, with kd a bind of the box's host directory, so it
                          survives a reboot (a new holder) like the real persistent partition
  /etc/keepalived         -> /tmp/etc/keepalived, as the AstLinux image ships it

A box may have an *image* (``Lab.add_box(..., image=DIR)``): ``DIR/etc`` and ``DIR/usr/local``,
when present, are extra read-only layers on top of the host's, under the box's writable layer. A
``make install DESTDIR=DIR`` lands there, so what it installed survives a reboot of the box the way
the files of AstLinux's read-only image do, while everything written at run time is thrown away.

The scratch tmpfs is mounted on /run only while the overlays are created, then unmounted: the
overlays keep their private clone of it, so nothing of it stays visible in the box.
"""

from __future__ import annotations

import os
import shlex

READY = "lab-box-ready"

_OVERLAYS = (("/etc", "etc"), ("/usr/local", "usr_local"), ("/var", "var"))
_IMAGE_LAYERS = ("/etc", "/usr/local")


def holder_script(kd_dir: str, image_dir: str | None = None) -> str:
    """The sh script a box's holder runs; prints READY, then sleeps holding the namespace.

    ``image_dir``: an optional image whose ``etc`` and ``usr/local`` lie over the host's.
    """
    kd = shlex.quote(kd_dir)
    lines = [
        "set -eu",
        # Scratch for the overlays' upper layers, on /run until /run gets its own tmpfs.
        "mount -t tmpfs -o mode=0700 lab-scratch /run",
    ]

    def overlay(target: str, tag: str) -> None:
        lower = target
        if image_dir is not None and target in _IMAGE_LAYERS:
            layer = os.path.join(image_dir, target.lstrip("/"))
            if os.path.isdir(layer):
                lower = f"{layer}:{target}"
        lines.extend([
            f"mkdir /run/{tag}.upper /run/{tag}.work",
            # The overlay's root takes the upper layer's mode: /tmp must stay 1777, as the
            # host's and AstLinux's are, or no user could create anything there.
            f"chmod --reference={target} /run/{tag}.upper",
            f"mount -t overlay -o lowerdir={lower},upperdir=/run/{tag}.upper,"
            f"workdir=/run/{tag}.work lab-{tag} {target}",
        ])

    # /mnt and /tmp are overlays too, not empty tmpfs: whatever the host keeps there (the
    # checkout these tests run from, under /tmp in a CI clone) stays visible in the box, and
    # what the box writes there stays in the box.
    overlay("/mnt", "mnt")
    # The /mnt/kd bind comes before /var is overlaid: its host path may lie under /var.
    lines += ["mkdir -p /mnt/kd", f"mount --bind {kd} /mnt/kd"]
    for target, tag in _OVERLAYS:
        overlay(target, tag)
    overlay("/tmp", "tmp")
    lines += [
        "umount /run",
        "mkdir -p -m 0755 /tmp/etc",
        "mount -t tmpfs -o mode=0755 lab-run /run",
        # On hosts where /var/run is a directory rather than the usual link to /run.
        "[ -L /var/run ] || mount -t tmpfs -o mode=0755 lab-varrun /var/run",
        "mkdir -p /var/state",
        "mount -t tmpfs -o mode=0755 lab-state /var/state",
        "rm -rf /etc/keepalived /tmp/etc/keepalived",
        "ln -s /tmp/etc/keepalived /etc/keepalived",
        f"echo {READY}",
        "exec sleep infinity </dev/null >/dev/null 2>&1",
    ]
    return "\n".join(lines) + "\n"
