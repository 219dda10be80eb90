"""Imports every domain's tasks so workers and the scheduler know them (and every model, for foreign keys)."""

import webapp.audit.tasks  # noqa: F401
import webapp.billing.tasks  # noqa: F401
import webapp.collaboration.tasks  # noqa: F401
import webapp.identity.tasks  # noqa: F401
import webapp.integrations.tasks  # noqa: F401
import webapp.mail.tasks  # noqa: F401
import webapp.models  # noqa: F401
import webapp.ops.tasks  # noqa: F401
import webapp.privacy.tasks  # noqa: F401
import webapp.search.tasks  # noqa: F401
import webapp.security.tasks  # noqa: F401
import webapp.simulations.tasks  # noqa: F401
import webapp.support.tasks  # noqa: F401
import webapp.usage.tasks  # noqa: F401
