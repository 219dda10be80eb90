"""Support access: the window an organization grants staff, staff break-glass, and audited impersonation."""
