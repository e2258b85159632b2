"""The daemon's wiring above the VRRP core, kept pure: what a start plans, what a reload keeps,
which instance a packet or a link event goes to, what status.json and the dumps say.

Nothing here opens a socket, reads a clock or spawns a process: supervisor.py and instance.py
carry out what it decides, through the ports in :mod:`astlinux_ha.runtime.ports`.
"""
