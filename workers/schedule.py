"""The Taskiq scheduler (run exactly one): schedules come from the tasks' `schedule` labels."""

from taskiq import TaskiqScheduler
from taskiq.schedule_sources import LabelScheduleSource

import workers.registry  # noqa: F401  (tasks must be imported for their labels)
from workers.broker import broker

scheduler = TaskiqScheduler(broker=broker, sources=[LabelScheduleSource(broker)])
