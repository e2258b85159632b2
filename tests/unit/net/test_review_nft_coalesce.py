"""Many instances going master at once (a failover of 200 no_accept instances) must not run
nft once per instance in a row, each rewriting the whole table while the next VIPs wait
behind it on their instance's chain: requests queued behind a run are served by one run of
the state at its start, which covers every request made before it."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from pathlib import Path

from test_nftables import fake_nft

from astlinux_ha.net.nftables import Drop, Firewall, ruleset


def test_a_burst_of_blocks_is_applied_in_few_nft_runs(tmp_path: Path) -> None:
    nft, out = fake_nft(tmp_path)
    drops = {f"VI_{i}": [Drop(ipaddress.ip_address(f"10.10.50.{i}"), "eth0")]
             for i in range(1, 21)}

    async def go() -> None:
        fw = Firewall(logging.getLogger("test.nft"), nft)
        await asyncio.gather(*(fw.block(name, d) for name, d in drops.items()))

    asyncio.run(go())
    runs = out.read_text().split("--\n")[:-1]
    assert len(runs) <= 2, len(runs)
    # The last run holds every instance's VIPs.
    assert runs[-1] == ruleset([d for ds in drops.values() for d in ds])
