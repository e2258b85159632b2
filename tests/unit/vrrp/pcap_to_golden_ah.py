"""Turn capture_keepalived_ah.sh's pcaps into golden_ah.jsonl (run by hand).

One line per captured packet, in capture order: the whole IPv4 datagram as keepalived sent it
(IP header, AH, VRRP), with the scenario's name and whether it was unicast (the receiver then
leaves the TTL out of the ICV).
"""

import json
import pathlib
import sys

from scapy.all import IP, rdpcap

UNICAST = {"uni": True, "mc": False, "pair": True}


def main(workdir: str) -> None:
    """Print every AH packet of every scenario."""
    for name in ("uni", "mc", "pair"):
        for pkt in rdpcap(str(pathlib.Path(workdir) / f"{name}.pcap")):
            ip = pkt[IP]
            print(json.dumps({"name": name, "unicast": UNICAST[name], "key": "secret12",
                              "hex": bytes(ip)[: ip.len].hex()}))


if __name__ == "__main__":
    main(sys.argv[1])
