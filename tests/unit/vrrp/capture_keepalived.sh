#!/bin/sh
# Capture golden VRRP adverts from the real keepalived (Debian 2.2.7) into golden.jsonl.
#
# Run by hand, as root: sh tests/unit/vrrp/capture_keepalived.sh
# Two throwaway namespaces joined by a veth pair; keepalived runs in the first as master of one
# scenario at a time, tcpdump listens in the second, which only owns the peer address. After the
# adverts, SIGTERM makes keepalived send its priority-0 advert, which is captured too. Everything
# is removed on exit, whatever happens. Nothing leaves the two namespaces.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-$HERE/../../../.venv/bin/python}
TAG=vc$$
A=${TAG}a
B=${TAG}b
WORK=$(mktemp -d)
KPID=
TPID=

cleanup() {
    if [ -n "$KPID" ]; then kill "$KPID" 2>/dev/null || true; fi
    if [ -n "$TPID" ]; then kill "$TPID" 2>/dev/null || true; fi
    sleep 0.2
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$A"
ip netns add "$B"
ip link add eth0 netns "$A" type veth peer name eth0 netns "$B"
for ns in "$A" "$B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
    ip -n "$ns" link set lo up
done
ip -n "$A" addr add 10.10.50.62/24 dev eth0
ip -n "$B" addr add 10.10.50.65/24 dev eth0
ip -n "$A" addr add fd00:50::62/64 dev eth0 nodad
ip -n "$B" addr add fd00:50::65/64 dev eth0 nodad
ip -n "$A" link set eth0 up
ip -n "$B" link set eth0 up
sleep 1

conf() {  # name version vrid prio advert_int unicast(yes|no) family(4|6) auth(PASS:x|none)
    name=$1 version=$2 vrid=$3 prio=$4 aint=$5 uni=$6 fam=$7 auth=$8
    f=$WORK/$name.conf
    {
        echo "global_defs { router_id CAPTURE"
        echo "  vrrp_version $version"
        echo "}"
        echo "vrrp_instance $name {"
        echo "  state MASTER"
        echo "  interface eth0"
        echo "  virtual_router_id $vrid"
        echo "  priority $prio"
        echo "  advert_int $aint"
        if [ "$uni" = yes ]; then
            if [ "$fam" = 4 ]; then
                echo "  unicast_src_ip 10.10.50.62"
                echo "  unicast_peer { 10.10.50.65 }"
            else
                echo "  unicast_src_ip fd00:50::62"
                echo "  unicast_peer { fd00:50::65 }"
            fi
        fi
        case $auth in PASS:*) echo "  authentication { auth_type PASS"
                              echo "    auth_pass ${auth#PASS:} }";; esac
        echo "  virtual_ipaddress {"
        if [ "$fam" = 4 ]; then
            echo "    10.10.50.244 dev eth0 label eth0:10"
            [ "$vrid" = 51 ] && echo "    10.10.50.245/24 dev eth0"
        else
            echo "    fd00:50::244/64 dev eth0"
            echo "    fd00:50::245/64 dev eth0"
        fi
        echo "  }"
        echo "}"
    } > "$f"
    echo "$f"
}

capture() {  # name conffile advert_int
    name=$1 f=$2
    # a non-owner master waits a full master-down interval (3 adverts + skew) first
    wait_s=$(awk -v a="$3" 'BEGIN { print 3 * a + 1 + 2 * a }')
    ip netns exec "$B" tcpdump -i eth0 -U -n -w "$WORK/$name.pcap" 'ip proto 112 or ip6 proto 112' \
        2>/dev/null &
    TPID=$!
    sleep 0.5
    ip netns exec "$A" keepalived -n -l -G -P -f "$f" -p "$WORK/$name.pid" -r "$WORK/$name.vpid" \
        >"$WORK/$name.log" 2>&1 &
    KPID=$!
    sleep "$wait_s"
    kill -TERM "$KPID"
    wait "$KPID" || true
    KPID=
    sleep 0.5
    kill "$TPID"
    wait "$TPID" || true
    TPID=
}

set -- \
    "v2_unicast 2 50 100 1 yes 4 none" \
    "v2_multicast_pass 2 51 150 2 no 4 PASS:secret" \
    "v3_ipv4 3 52 200 0.5 no 4 none" \
    "v3_ipv4_unicast 3 54 120 1 yes 4 none" \
    "v3_ipv6 3 53 254 1 no 6 none"
for scenario in "$@"; do
    # shellcheck disable=SC2086
    set -- $scenario
    f=$(conf "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8")
    capture "$1" "$f" "$5"
done

"$PY" "$HERE/pcap_to_golden.py" "$WORK" > "$HERE/data/golden.jsonl"
keepalived -v 2>&1 | head -1 > "$HERE/data/golden.version"
echo "wrote $(wc -l < "$HERE/data/golden.jsonl") vectors"
