"""VmacManager never deletes a macvlan one of our running instances holds: a name that
another instance takes (two configs' names colliding across a reload, say) disables the new
instance instead of pulling the running one's VIPs off its link. A crashed run's leftover of
that name is still replaced."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from astlinux_ha.net import vmac
from astlinux_ha.net.vmac import VmacManager, VmacSpec


class _Info:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def get_attr(self, name: str) -> str:
        return self.kind


class _Msg(dict):  # type: ignore[type-arg]
    def get_attr(self, name: str) -> Any:
        return _Info(self["kind"])


class FakeNetlink:
    """Links by name; records the requests."""

    def __init__(self) -> None:
        self.links: dict[str, tuple[int, str]] = {"eth0": (2, "veth"), "eth1": (3, "veth")}
        self.requests: list[tuple[str, str]] = []

    async def ifindex(self, ifname: str) -> int | None:
        link = self.links.get(ifname)
        return link[0] if link else None

    async def dump(self, method: str, *args: Any) -> list[Any]:
        return [_Msg(index=i, kind=k) for i, k in self.links.values()]

    async def request(self, method: str, verb: str, **kw: Any) -> int:
        if verb == "add":
            self.requests.append(("add", kw["ifname"]))
            self.links[kw["ifname"]] = (10 + len(self.links), "macvlan")
        elif verb == "del":
            name = next(n for n, (i, _) in self.links.items() if i == kw["index"])
            self.requests.append(("del", name))
            del self.links[name]
        return 0


@pytest.fixture(autouse=True)
def _no_sysctls(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never touch the host's /proc/sys from a unit test.
    monkeypatch.setattr(vmac, "_write", lambda path, value: None)
    monkeypatch.setattr(vmac, "_read", lambda path: "0")


def test_a_running_instances_macvlan_is_not_replaced() -> None:
    asyncio.run(_in_use())


async def _in_use() -> None:
    nl = FakeNetlink()
    manager = VmacManager(nl)  # type: ignore[arg-type]
    first = VmacSpec("vrrp.50", "eth0", "00:00:5e:00:01:32", 4)
    assert (await manager.create(first)).created
    second = VmacSpec("vrrp.50", "eth1", "00:00:5e:00:01:32", 4)
    result = await manager.create(second)
    assert not result.created
    assert any("in use" in p for p in result.problems)
    assert nl.requests == [("add", "vrrp.50")]
    # Once the first is removed, the name is free again.
    await manager.remove(first)
    assert (await manager.create(second)).created


def test_a_leftover_of_that_name_is_still_replaced() -> None:
    asyncio.run(_leftover())


async def _leftover() -> None:
    nl = FakeNetlink()
    nl.links["vrrp.50"] = (9, "macvlan")
    manager = VmacManager(nl)  # type: ignore[arg-type]
    assert (await manager.create(VmacSpec("vrrp.50", "eth0", "00:00:5e:00:01:32", 4))).created
    assert nl.requests == [("del", "vrrp.50"), ("add", "vrrp.50")]


def test_a_leftover_that_cannot_be_deleted_is_reported_not_raised() -> None:
    asyncio.run(_undeletable())


async def _undeletable() -> None:
    from pyroute2.netlink.exceptions import NetlinkError

    nl = FakeNetlink()
    nl.links["vrrp.50"] = (9, "macvlan")

    async def refuse(method: str, verb: str, **kw: Any) -> int:
        raise NetlinkError(1, "Operation not permitted")

    nl.request = refuse  # type: ignore[method-assign]
    manager = VmacManager(nl)  # type: ignore[arg-type]
    result = await manager.create(VmacSpec("vrrp.50", "eth0", "00:00:5e:00:01:32", 4))
    assert not result.created
    assert any("cannot delete" in p for p in result.problems)
