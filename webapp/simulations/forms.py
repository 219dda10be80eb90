"""WTForms for recording and correcting products (the service's rules decide)."""
from __future__ import annotations

from wtforms import Form, HiddenField, SelectField, StringField, TextAreaField

from webapp.catalog.enums import PRODUCT_TYPES
from webapp.core.forms import choices


class ProductForm(Form):
    """Record a product by hand, or correct one."""

    version = HiddenField()
    mission_id = SelectField("Mission", validate_choice=False)
    product_type = SelectField("Product", choices=choices((p.value, p.label) for p in PRODUCT_TYPES))
    quantity_kg = StringField("Quantity (kg)")
    produced_at = StringField("Produced on")
    recipe_id = SelectField("Recipe", validate_choice=False)
    notes = TextAreaField("Notes")

    def values(self, sent) -> dict:
        """The fields the request sent, for the service."""
        return {name: field.data for name, field in self._fields.items() if name != "version" and name in sent}
