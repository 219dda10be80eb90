"""Catalog writes, one module per kind; `items` holds what the kinds share."""
