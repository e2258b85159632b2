"""The switch: a bridge ``br0`` in its own network namespace, one port ``p<box>`` per box.

VRRP is blocked with nftables in the bridge's forward hook, matched on (in port, out port), so a
block holds for unicast and multicast alike and leaves ARP and ping untouched.
"""

from __future__ import annotations

from ._host import LabError, sh

_TABLE = "lab"


class Switch:
    """The lab's switch namespace. Made by :class:`Lab`."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self._firewall_ready = False

    def create(self) -> None:
        """The namespace and an STP-free, snooping-free bridge (forwards from the first frame)."""
        sh(["ip", "netns", "add", self.netns])
        sh(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        sh(["ip", "-n", self.netns, "link", "add", "br0", "type", "bridge", "forward_delay", "0",
            "stp_state", "0", "mcast_snooping", "0"])
        sh(["ip", "-n", self.netns, "link", "set", "br0", "up"])

    def add_bridge(self, name: str) -> None:
        """Another LAN on the same switch: a bridge like ``br0`` (a box's eth1, eth2...)."""
        sh(["ip", "-n", self.netns, "link", "add", name, "type", "bridge", "forward_delay", "0",
            "stp_state", "0", "mcast_snooping", "0"])
        sh(["ip", "-n", self.netns, "link", "set", name, "up"])

    def nft(self, script: str) -> None:
        """Apply an nft script inside the switch namespace."""
        try:
            sh(["ip", "netns", "exec", self.netns, "nft", "-f", "-"], input=script)
        except FileNotFoundError as exc:
            raise LabError("blocking VRRP needs nftables (Debian package 'nftables')") from exc

    def _ensure_firewall(self) -> None:
        if not self._firewall_ready:
            self.nft(f"table bridge {_TABLE} {{\n  chain forward {{ type filter hook forward "
                     "priority 0; policy accept; }\n}\n")
            self._firewall_ready = True

    def block_vrrp(self, port_a: str, port_b: str) -> None:
        """Drop VRRP forwarded between the two ports, both directions: IP protocol 112 (v4 and
        v6) and 51 (VRRPv2 with ``auth_type AH`` is carried in IPsec AH)."""
        self._ensure_firewall()
        if self._rule_handles(port_a, port_b):
            return
        rules = []
        for src, dst in ((port_a, port_b), (port_b, port_a)):
            tag = _tag(port_a, port_b)
            rules.append(f'add rule bridge {_TABLE} forward iifname "{src}" oifname "{dst}" '
                         f'ip protocol 112 drop comment "{tag}"')
            rules.append(f'add rule bridge {_TABLE} forward iifname "{src}" oifname "{dst}" '
                         f'ip protocol 51 drop comment "{tag}"')
            rules.append(f'add rule bridge {_TABLE} forward iifname "{src}" oifname "{dst}" '
                         f'ip6 nexthdr 112 drop comment "{tag}"')
        self.nft("\n".join(rules) + "\n")

    def unblock_vrrp(self, port_a: str, port_b: str) -> None:
        """Remove the rules :meth:`block_vrrp` added for these two ports."""
        handles = self._rule_handles(port_a, port_b)
        if handles:
            self.nft("".join(f"delete rule bridge {_TABLE} forward handle {h}\n"
                             for h in handles))

    def _rule_handles(self, port_a: str, port_b: str) -> list[int]:
        if not self._firewall_ready:
            return []
        out = sh(["ip", "netns", "exec", self.netns, "nft", "-a", "list", "chain", "bridge",
                  _TABLE, "forward"]).stdout
        tag = f'comment "{_tag(port_a, port_b)}"'
        return [int(line.rsplit("handle", 1)[1]) for line in out.splitlines()
                if tag in line and "# handle" in line]

    def set_port(self, port: str, up: bool) -> None:
        """Bring a switch port up or down (a cable plugged or pulled)."""
        sh(["ip", "-n", self.netns, "link", "set", port, "up" if up else "down"])


def _tag(port_a: str, port_b: str) -> str:
    """The same comment whichever order the two ports are given in."""
    first, second = sorted((port_a, port_b))
    return f"vrrp-block {first} {second}"
