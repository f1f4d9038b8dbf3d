"""``amtflow local up``: a running twin explored with one-line commands."""

from amtflow.local.apps.shell._shell import (
    COMMANDS,
    Shell,
    commands_help,
    parse_duration,
    split_command,
    twin_status,
)

__all__ = ["COMMANDS", "Shell", "commands_help", "parse_duration", "split_command", "twin_status"]
