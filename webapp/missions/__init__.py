"""Missions and their crews."""
