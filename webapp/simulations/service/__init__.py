"""Simulation-domain writes: products by hand (`products`), runs (`runs`) and their execution (`execution`)."""

from webapp.simulations.service.products import (  # noqa: F401  (the products API of this package)
    FIELDS,
    RULES,
    delete_product,
    record_product,
    restore_product,
    snapshot,
    update_product,
)
