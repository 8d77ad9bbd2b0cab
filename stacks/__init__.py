"""Stacks that turn a loaded spec into constructs (composition only)."""
