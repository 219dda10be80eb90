"""Simulation runs and the products they (or people) record."""
