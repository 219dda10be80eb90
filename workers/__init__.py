"""Taskiq runtime: broker, worker lifecycle, task registry and schedules."""
