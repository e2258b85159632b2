"""keepalived keywords that astlinux-ha recognises but does not implement.

They get "not supported by astlinux-ha" rather than keepalived's "unknown keyword", so an admin
moving a config over learns which lines have no effect here. The lists come from keepalived's
own keyword tables (global_parser.c, vrrp_parser.c).

A few keywords are read into the model (their values are checked like keepalived's) but have
no effect at run time yet; :func:`ignored_settings` names each one the config uses, so ``-t``
never accepts a line in silence that the daemon will not honour. tests/data/keywords.toml
lists every keyword the reader accepts and what shows it working.
"""

from __future__ import annotations

from astlinux_ha.problems import Location, Problem, Severity

from .model import Config

# VirtualAddress options the address manager never passes to the kernel. preferred_lft
# forever is the kernel's own default, so only a finite lifetime is lost.
FOREVER = 0xFFFFFFFF
IGNORED_VIP_OPTIONS = ("home", "mngtmpaddr", "autojoin", "peer", "preferred_lft", "use_vmac")

UNSUPPORTED_TOP = frozenset(
    {
        "static_ipaddress",
        "static_routes",
        "static_rules",
        "static_track_group",
        "track_group",
        "linkbeat_interfaces",
        "garp_group",
        "vrrp_track_process",
        "vrrp_track_file",
        "track_file",
        "interface_up_down_delays",
        "net_namespace",
        "net_namespace_ipvs",
        "namespace_with_ipsets",
        "instance",
        "use_pid_dir",
        "linkbeat_use_polling",
        "child_wait_time",
        "bfd_instance",
        "vrrp_track_bfd",
    }
)

UNSUPPORTED_INSTANCE = frozenset(
    {
        "use_vmac_addr",
        "use_ipvlan",
        "unicast_fault_no_peer",
        "old_unicast_checksum",
        "native_ipv6",
        "vrf",
        "mcast_dst_ip",
        "no_virtual_ipaddress",
        "promote_secondaries",
        "linkbeat_use_polling",
        "virtual_rules",
        "track_file",
        "track_process",
        "track_bfd",
        "debug",
        "smtp_alert",
        "lvs_sync_daemon_interface",
        "garp_extra_if",
        "vmac_garp_intvl",
        "timer_expired_backup",
        "thread_timer_expired",
        "owner_ignore_adverts",
        "kernel_rx_buf_size",
        "auth_hmac",
    }
)

UNSUPPORTED_GLOBAL = frozenset(
    {
        "net_namespace",
        "net_namespace_ipvs",
        "namespace_with_ipsets",
        "instance",
        "use_pid_dir",
        "linkbeat_use_polling",
        "child_wait_time",
        "process_names",
        "process_name",
        "vrrp_process_name",
        "checker_process_name",
        "lvs_process_name",
        "bfd_process_name",
        "use_symlink_paths",
        "set_supplementary_groups",
        "notification_email_from",
        "smtp_server",
        "smtp_helo_name",
        "smtp_connect_timeout",
        "notification_email",
        "smtp_alert",
        "startup_script",
        "startup_script_timeout",
        "shutdown_script",
        "shutdown_script_timeout",
        "max_auto_priority",
        "min_auto_priority_delay",
        "smtp_alert_vrrp",
        "smtp_alert_checker",
        "checker_log_all_failures",
        "dynamic_interfaces",
        "no_email_faults",
        "default_interface",
        "disable_local_igmp",
        "lvs_timeouts",
        "lvs_flush",
        "lvs_flush_on_stop",
        "lvs_flush_onstop",
        "lvs_sync_daemon",
        "vrrp_garp_extra_if",
        "vrrp_vmac_garp_intvl",
        "vrrp_iptables",
        "vrrp_ipsets",
        "nftables",
        "nftables_priority",
        "nftables_ifindex",
        "vrrp_priority",
        "vrrp_no_swap",
        "vrrp_rt_priority",
        "vrrp_cpu_affinity",
        "vrrp_rlimit_rttime",
        "vrrp_rlimit_rtime",
        "nftables_ipvs",
        "nftables_ipvs_priority",
        "nftables_ipvs_start_fwmark",
        "nftables_counters",
        "fifo_write_vrrp_states_on_reload",
        "lvs_notify_fifo",
        "lvs_notify_fifo_script",
        "checker_priority",
        "checker_no_swap",
        "checker_rt_priority",
        "checker_cpu_affinity",
        "checker_rlimit_rttime",
        "checker_rlimit_rtime",
        "bfd_priority",
        "bfd_no_swap",
        "bfd_rt_priority",
        "bfd_cpu_affinity",
        "bfd_rlimit_rttime",
        "bfd_rlimit_rtime",
        "snmp_socket",
        "enable_traps",
        "enable_snmp_vrrp",
        "enable_snmp_keepalived",
        "enable_snmp_rfc",
        "enable_snmp_rfcv2",
        "enable_snmp_rfcv3",
        "enable_snmp_checker",
        "snmp_vs_stats_update_interval",
        "snmp_rs_stats_update_interval",
        "enable_dbus",
        "dbus_service_name",
        "dbus_no_interface_name",
        "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_cmd_rcv_bufs_force",
        "vrrp_netlink_monitor_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs_force",
        "process_monitor_rcv_bufs",
        "process_monitor_rcv_bufs_force",
        "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs_force",
        "lvs_netlink_monitor_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs_force",
        "rs_init_notifies",
        "no_checker_emails",
        "vrrp_rx_bufs_policy",
        "vrrp_rx_bufs_multiplier",
        "vrrp_delay_after_boot",
        "vrrp_owner_ignore_adverts",
        "vmac_prefix",
        "vmac_addr_prefix",
        "random_seed",
        "reload_check_config",
        "reload_time_file",
        "reload_repeat",
        "reload_file",
        "include_check",
        "config_save_dir",
        "tmp_config_directory",
        "data_use_instance",
        "json_version",
        "iproute_usr_dir",
        "iproute_etc_dir",
        "state_dump_file",
        "stats_dump_file",
        "json_dump_file",
    }
)


def _not_supported(where: Location, what: str, effect: str) -> Problem:
    return Problem(where, Severity.WARNING, f"{what} is not supported by astlinux-ha - {effect}")


def ignored_settings(config: Config) -> tuple[Problem, ...]:
    """A warning for each setting of ``config`` that is read but has no effect at run time."""
    out: list[Problem] = []
    for inst in config.instances:
        for vip in (*inst.virtual_ipaddresses, *inst.virtual_ipaddresses_excluded):
            for option in IGNORED_VIP_OPTIONS:
                value = getattr(vip, option)
                unset = value is None or value is False
                if unset or (option == "preferred_lft" and value == FOREVER):
                    continue
                out.append(
                    _not_supported(
                        vip.where,
                        f"virtual_ipaddress option '{option}'",
                        f"{vip.address} is added without it",
                    )
                )
        for field, keyword, global_keyword in (
            ("interval", "garp_interval", "vrrp_garp_interval"),
            ("na_interval", "gna_interval", "vrrp_gna_interval"),
        ):
            # One announcer paces every instance's messages, at the global interval.
            if getattr(inst.garp, field) != getattr(config.global_defs.garp, field):
                out.append(
                    _not_supported(
                        inst.where,
                        f"({inst.name}) {keyword} on an instance",
                        f"the global {global_keyword} paces every instance",
                    )
                )
        for route in inst.virtual_routes:
            if route.protocol is not None:
                out.append(
                    _not_supported(
                        route.where,
                        f"virtual_routes option 'protocol {route.protocol}' (proto)",
                        "the route is added as proto keepalived (18)",
                    )
                )
    for group in config.sync_groups:
        if group.notify_priority_changes:
            out.append(
                _not_supported(
                    group.where,
                    f"({group.name}) notify_priority_changes on a sync group",
                    "set it on each member instance",
                )
            )
    return tuple(out)
