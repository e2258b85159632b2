"""The VRRP core: packet codec, receive checks, state machine, sync groups. Pure.

Nothing here opens a socket, reads a clock or touches the system: time comes in as ``now``
(float seconds, monotonic), bytes come in and go out, and decisions come out as actions for
the daemon to carry out. Every module is tested in milliseconds.

Packets (:mod:`.packet`)::

    msg = encode(Advert(version=2, vrid=50, priority=100, interval=1, addresses=(vip,)),
                 src, dst)                 # the VRRP message; the kernel adds the IP header
    advert = decode(payload, src, dst)     # Advert, or PacketError(problem: PacketProblem, msg)
    # v3 IPv4: checksum_as_v2=True (keepalived's v3_checksum_as_v2); mcast_group=G on encode
    # sends keepalived's old unicast checksum (when Accepted.checksum says a peer uses it).

Receiving (:mod:`.receive`), keepalived's checks in keepalived's order::

    rp = ReceiveParams(name="VI_1", vrid=50, version=2, family=4, advert_int=1.0,
                       vips=(vip,), unicast_peers=(Peer(peer_ip),), check_unicast_src=True)
    verdict = check(rp, payload, src, dst, ttl, master=state.master_address)
    # Accepted(advert, warnings: tuple[Finding], checksum) | Rejected(finding)
    # Finding(reason: Reason, message: str) -> count by reason, log the message via
    limiter = RateLimiter(60.0); line = limiter.filter((reason, src), message, now)
    for key, n in limiter.summaries(now): ...          # "N similar messages suppressed"

AH (:mod:`.ah`, ``auth_type AH``: VRRPv2 in IPsec AH, IPv4, keepalived's wire format)::

    datagram = ah.build(msg, src, dst, key=b"secret12", seq=c.seq, ip_id=1, unicast=True)
    packet = ah.split(datagram)            # AhPacket(ip_header, ah, payload); AhError
    verdict = check(rp, packet.payload, src, dst, ttl, ah=packet, ah_counter=c)
    # verdict.ah_seq: the number to adopt (c.accepted(...)); SeqCounter holds the rules

State machine (:mod:`.machine`, vocabulary in :mod:`.model`)::

    params = InstanceParams(name="VI_1", vrid=50, primary_address=ip, version=2,
                            priority=100, advert_int=1.0, init_state=Role.MASTER,
                            unicast_peers=(peer_ip,), vips=(vip,), garp=Garp(...),
                            tracks=(TrackSpec(TrackKind.INTERFACE, "eth0"), ...))
    state = InstanceState()
    state, actions = step(params, state, Start(down=frozenset()), now)
    state, actions = step(params, state, AdvertReceived(verdict.advert, src), now)
    state, actions = step(params, state, TimerExpired(Timer.MASTER_DOWN), now)
    # other events: InterfaceDown(ifname), InterfaceUp(ifname), TrackResult(name, up),
    #               SourceAddress(address, present), Shutdown(), Reload() (with the new params)
    # actions, in order: SendAdvert(priority), AddVips(), RemoveVips(force),
    #   SendGratuitous(repeat), RunNotify(state, priority), ArmTimer(timer, at),
    #   CancelTimer(timer), Log(level, message), Transition(from_role, to_role, cause)

The daemon keeps one deadline per (instance, Timer); ArmTimer replaces it, and a stale
TimerExpired is ignored by the machine. Sync-group members go through
:func:`.sync.group_step`, which steps the target member and then moves the others.
"""

from .machine import own_faults, pending_tracks, step, timers_due
from .model import (
    Action,
    AddVips,
    AdvertReceived,
    ArmTimer,
    CancelTimer,
    Event,
    Garp,
    InstanceParams,
    InstanceState,
    InterfaceDown,
    InterfaceUp,
    Level,
    Log,
    Reload,
    RemoveVips,
    Role,
    RunNotify,
    SendAdvert,
    SendGratuitous,
    Shutdown,
    SourceAddress,
    Start,
    SyncForce,
    SyncRelease,
    Timer,
    TimerExpired,
    TrackResult,
    Transition,
)
from .packet import (
    Advert,
    AuthType,
    ChecksumVariant,
    PacketError,
    PacketProblem,
    decode,
    encode,
)
from .ratelimit import RateLimiter
from .receive import Accepted, Finding, Peer, Reason, ReceiveParams, Rejected, check
from .sync import GroupStep, Member, group_step
from .timing import advert_us, down_us, skew_us
from .tracking import TrackKind, TrackSpec, effective_priority

__all__ = [
    "Accepted", "Action", "AddVips", "Advert", "AdvertReceived", "ArmTimer", "AuthType",
    "CancelTimer", "ChecksumVariant", "Event", "Finding", "Garp", "GroupStep",
    "InstanceParams", "InstanceState", "InterfaceDown", "InterfaceUp", "Level", "Log",
    "Member", "PacketError", "Peer", "PacketProblem", "RateLimiter", "Reason", "ReceiveParams",
    "Rejected", "Reload", "RemoveVips", "Role", "RunNotify", "SendAdvert", "SendGratuitous",
    "Shutdown", "SourceAddress", "Start", "SyncForce", "SyncRelease", "Timer", "TimerExpired",
    "TrackKind",
    "TrackResult", "TrackSpec", "Transition", "advert_us", "check", "decode", "down_us",
    "effective_priority", "encode", "group_step", "own_faults", "pending_tracks",
    "skew_us", "step", "timers_due",
]
