#!/bin/sh
# Capture keepalived's (Debian 2.2.7) VRRPv2 adverts with auth_type AH into golden_ah.jsonl.
#
# Run by hand, as root: sh tests/unit/vrrp/capture_keepalived_ah.sh
# Two throwaway namespaces joined by a veth pair, tcpdump on the second one's end. Scenarios:
# "uni" and "mc": keepalived alone in the first namespace (unicast to 10.10.50.65, multicast),
# a few adverts, then SIGTERM (its priority-0 advert). "pair": keepalived in both namespaces
# (priority 99 at .65 starts alone, priority 100 at .62 joins and preempts, .62 is restarted,
# then .65 is restarted), which shows how the sequence number passes from one box to the other.
# Everything is removed on exit. Nothing leaves the two namespaces.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-$HERE/../../../.venv/bin/python}
TAG=ah$$
A=${TAG}a
B=${TAG}b
WORK=$(mktemp -d)

cleanup() {
    for f in "$WORK"/*.kpid "$WORK"/t.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    sleep 0.3
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$A"
ip netns add "$B"
ip link add eth0 netns "$A" type veth peer name eth0 netns "$B"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" addr add 10.10.50.62/24 dev eth0
ip -n "$B" addr add 10.10.50.65/24 dev eth0
ip -n "$A" link set eth0 up
ip -n "$B" link set eth0 up
sleep 1

conf() {  # me peer priority unicast(yes|no)
    echo "global_defs { router_id CAPTURE }"
    echo "vrrp_instance VI_1 {"
    echo "  state BACKUP"
    echo "  interface eth0"
    echo "  virtual_router_id 51"
    echo "  priority $3"
    echo "  advert_int 1"
    if [ "$4" = yes ]; then
        echo "  unicast_src_ip $1"
        echo "  unicast_peer { $2 }"
    fi
    echo "  authentication { auth_type AH"
    echo "    auth_pass secret12 }"
    echo "  virtual_ipaddress { 10.10.50.244 dev eth0 label eth0:10 }"
    echo "}"
}

start() {  # namespace name conf
    ip netns exec "$1" keepalived -n -l -D -P -f "$3" -p "$WORK/$2.pid" -r "$WORK/$2.vpid" \
        >"$WORK/$2.log" 2>&1 &
    echo $! >"$WORK/$2.kpid"
}

stop() {  # name: SIGTERM, wait until gone
    pid=$(cat "$WORK/$1.kpid")
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm "$WORK/$1.kpid"
}

listen() {
    ip netns exec "$B" tcpdump -i eth0 -U -n -w "$WORK/$1.pcap" 'ip proto 51' 2>/dev/null &
    echo $! >"$WORK/t.pid"
    sleep 0.5
}

unlisten() {
    sleep 0.3
    kill "$(cat "$WORK/t.pid")"
    rm "$WORK/t.pid"
    sleep 0.2
}

# AH forbids an initial MASTER state: each lone box waits a master-down interval first.
conf 10.10.50.62 10.10.50.65 100 yes >"$WORK/uni.conf"
listen uni; start "$A" uni "$WORK/uni.conf"; sleep 7.5; stop uni; unlisten
conf 10.10.50.62 10.10.50.65 100 no >"$WORK/mc.conf"
listen mc; start "$A" mc "$WORK/mc.conf"; sleep 7.5; stop mc; unlisten

conf 10.10.50.65 10.10.50.62 99 yes >"$WORK/b.conf"
conf 10.10.50.62 10.10.50.65 100 yes >"$WORK/a.conf"
listen pair
start "$B" b "$WORK/b.conf"; sleep 6
start "$A" a "$WORK/a.conf"; sleep 7
stop a; sleep 2; start "$A" a "$WORK/a.conf"; sleep 7
stop b; sleep 2; start "$B" b "$WORK/b.conf"; sleep 6
stop a; stop b
unlisten

"$PY" "$HERE/pcap_to_golden_ah.py" "$WORK" >"$HERE/data/golden_ah.jsonl"
echo "wrote $(wc -l <"$HERE/data/golden_ah.jsonl") AH vectors"
