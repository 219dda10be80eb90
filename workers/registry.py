"""Imports every domain's tasks so workers and the scheduler know them."""
import webapp.ops.tasks  # noqa: F401
