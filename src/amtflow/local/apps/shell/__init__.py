"""``amtflow local up``: a running twin explored with one-line commands."""

from amtflow.local.apps.shell._shell import Shell, parse_duration, twin_status

__all__ = ["Shell", "parse_duration", "twin_status"]
