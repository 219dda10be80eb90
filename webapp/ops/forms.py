"""The form that starts a system check."""

from wtforms import Form, SelectMultipleField, widgets

from webapp.core.forms import choices
from webapp.ops.enums import StepName

STEP_LABELS = {
    StepName.POSTGRES: "PostgreSQL: version, latency, RLS role",
    StepName.REDIS: "Redis: version and latency",
    StepName.WORKER: "Workers: heartbeats and queue depth",
    StepName.SCHEDULER: "Scheduler: periodic tick",
}


class CheckForm(Form):
    """Which steps to run (all when none are ticked)."""

    steps = SelectMultipleField(
        "Steps",
        choices=choices((s.value, STEP_LABELS[s]) for s in StepName),
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
        validate_choice=False,
    )
