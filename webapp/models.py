"""Imports every domain's models so Base.metadata (and Alembic) sees the whole schema."""

from webapp.apiedge.models import IdempotencyKey  # noqa: F401
from webapp.apikeys.models import ApiKey  # noqa: F401
from webapp.audit.models import AuditArchive, AuditChainAnchor, AuditCheckpoint, AuditVerification  # noqa: F401
from webapp.billing.models import (  # noqa: F401
    Checkout,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentEvent,
    Plan,
    PlanMeter,
    Subscription,
)
from webapp.catalog.models import (  # noqa: F401
    ModuleMaintenance,
    ProcessingModule,
    Recipe,
    RecipeLine,
    WasteMaterial,
)
from webapp.collaboration.models import (  # noqa: F401,E402
    Attachment,
    Comment,
    CommentMention,
    CommentRevision,
    StoredObject,
)
from webapp.core.audit import AuditLog  # noqa: F401
from webapp.core.db import Base  # noqa: F401
from webapp.iam.models import BreakGlassActivation, Role, RoleAssignment  # noqa: F401
from webapp.identity.models import AuthSession, AuthToken, EmailToken, User  # noqa: F401
from webapp.integrations.models import (  # noqa: F401
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
    WebhookSecret,
)
from webapp.mail.models import OutboxEmail  # noqa: F401
from webapp.missions.models import Mission, MissionCrew  # noqa: F401
from webapp.ops.models import SystemCheck  # noqa: F401
from webapp.organizations.models import Invitation, Membership, Organization  # noqa: F401
from webapp.privacy.models import (  # noqa: F401
    LegalHold,
    PersonalDataEntry,
    PolicyVersion,
    PrivacyRequestEvent,
    PrivacySubjectRequest,
    UserConsent,
)
from webapp.search import service as _search_maintenance  # noqa: F401,E402 - its flush hook keeps search_index current
from webapp.search.models import ReindexJob, SearchIndex  # noqa: F401
from webapp.security.models import (  # noqa: F401
    IncidentActivity,
    IncidentEvent,
    IncidentOrganization,
    SecurityEvent,
    SecurityIncident,
)
from webapp.settings.models import Setting  # noqa: F401,E402
from webapp.simulations.models import Product, SimulationLog, SimulationRun  # noqa: F401
from webapp.support.models import ImpersonationSession, StaffBreakGlass, SupportAccessGrant  # noqa: F401,E402
from webapp.usage.metered import (  # noqa: F401,E402
    BillableMetric,
    BillingPeriodClose,
    DirtyWindow,
    MeteredUsage,
    OverageFee,
    UsageAggregate,
    UsageTransactionKey,
)
from webapp.usage.models import CreditAccount, CreditEntry, CreditHold  # noqa: F401,E402
