"""Roles, permissions, role assignments and break-glass access."""
