"""astlinux-ha: a VRRP high-availability daemon that stands in for keepalived on AstLinux."""

__version__ = "0.1.0"
