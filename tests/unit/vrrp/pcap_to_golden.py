"""Turn the capture script's pcaps into golden.jsonl (one advert per line; run by hand)."""

import json
import pathlib
import sys

from scapy.all import IP, IPv6, rdpcap


def main(workdir: str) -> None:
    """Print, per scenario, the first two distinct adverts and the priority-0 one."""
    for pcap in sorted(pathlib.Path(workdir).glob("*.pcap")):
        seen: set[bytes] = set()
        for pkt in rdpcap(str(pcap)):
            ip = pkt[IP] if IP in pkt else pkt[IPv6]
            payload = bytes(ip.payload)
            if payload in seen:
                continue
            seen.add(payload)
            ttl = ip.ttl if IP in pkt else ip.hlim
            row = {
                "name": pcap.stem,
                "src": ip.src,
                "dst": ip.dst,
                "ttl": ttl,
                "hex": payload.hex(),
            }
            print(json.dumps(row))


if __name__ == "__main__":
    main(sys.argv[1])
