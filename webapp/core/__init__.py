"""Plumbing shared by every domain; imports no domain package."""
