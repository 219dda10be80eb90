"""The one place blueprints are registered."""

from __future__ import annotations

from quart import Quart


def register_blueprints(app: Quart) -> None:
    """Attach every domain's HTML and JSON blueprints."""
    from webapp.admin.api import bp as admin_api
    from webapp.admin.views import bp as admin_views
    from webapp.apikeys.api import bp as apikeys_api
    from webapp.apikeys.views import bp as apikeys_views
    from webapp.audit.api import bp as audit_api
    from webapp.audit.api import org_bp as org_audit_api
    from webapp.audit.views import bp as audit_views
    from webapp.audit.views import org_bp as org_audit_views
    from webapp.audit.views import staff_bp as staff_audit_views
    from webapp.billing.api import bp as billing_api
    from webapp.billing.api import org_bp as org_billing_api
    from webapp.billing.api import webhooks_bp as webhooks_api
    from webapp.billing.views import bp as billing_views
    from webapp.catalog import operations  # noqa: F401 - adds maintenance and import routes to the catalog pages
    from webapp.catalog.api import bp as catalog_items_api
    from webapp.catalog.api import org_bp as catalog_api
    from webapp.catalog.views import bp as catalog_views
    from webapp.collaboration import file_views  # noqa: F401 - adds the file routes to the comments blueprint
    from webapp.collaboration.api import bp as comments_api
    from webapp.collaboration.storage_views import bp as storage_views
    from webapp.collaboration.views import bp as comments_views
    from webapp.core.errors import add_error_context
    from webapp.iam.api import bp as iam_api
    from webapp.iam.forbidden import forbidden_context
    from webapp.iam.views import bp as iam_views
    from webapp.identity.api import bp as identity_api
    from webapp.identity.mfa_views import bp as mfa_views
    from webapp.identity.profile_views import bp as profile_views
    from webapp.identity.views import bp as identity_views
    from webapp.integrations.api import bp as webhooks_out_api
    from webapp.integrations.api import types_bp as webhook_types_api
    from webapp.integrations.views import bp as integrations_views
    from webapp.mail.views import bp as mail_views
    from webapp.missions import crew_views  # noqa: F401 - adds the crew routes to the missions blueprint
    from webapp.missions.api import bp as mission_api
    from webapp.missions.api import org_bp as missions_api
    from webapp.missions.views import bp as missions_views
    from webapp.ops.api import bp as ops_api
    from webapp.ops.views import bp as ops_views
    from webapp.ops.views import docs_bp as api_docs
    from webapp.ops.views import platform_bp as ops_platform
    from webapp.organizations.api import bp as organizations_api
    from webapp.organizations.api import orgs_bp as orgs_api
    from webapp.organizations.views import bp as organizations_views
    from webapp.privacy.api import bp as privacy_api
    from webapp.privacy.internal_api import bp as privacy_internal
    from webapp.privacy.request_views import bp as privacy_request_views
    from webapp.privacy.staff_views import bp as privacy_staff_views
    from webapp.privacy.views import bp as privacy_views
    from webapp.search.api import bp as search_api
    from webapp.search.api import org_bp as org_search_api
    from webapp.search.views import bp as search_views
    from webapp.security.api import bp as security_api
    from webapp.security.api import org_bp as org_security_api
    from webapp.security.views import bp as security_staff_views
    from webapp.settings.api import bp as setting_api
    from webapp.settings.api import org_bp as settings_api
    from webapp.settings.views import bp as settings_views
    from webapp.simulations.api import bp as products_api
    from webapp.simulations.api import org_bp as org_products_api
    from webapp.simulations.run_views import bp as simulations_views
    from webapp.simulations.views import bp as products_views
    from webapp.support.api import bp as support_api
    from webapp.support.views import bp as support_views
    from webapp.support.views import org_bp as org_security_views
    from webapp.usage.api import bp as credits_api
    from webapp.usage.api import org_bp as org_credits_api
    from webapp.usage.api import org_usage_bp as org_usage_api
    from webapp.usage.api import usage_bp as usage_api
    from webapp.usage.internal_api import bp as usage_internal
    from webapp.usage.views import bp as usage_views

    add_error_context(forbidden_context)
    for blueprint in (
        identity_views,
        organizations_views,
        ops_views,
        ops_platform,
        api_docs,
        ops_api,
        mail_views,
        mfa_views,
        profile_views,
        privacy_views,
        audit_views,
        org_audit_views,
        staff_audit_views,
        privacy_request_views,
        privacy_staff_views,
        iam_views,
        apikeys_views,
        admin_views,
        billing_views,
        usage_views,
        missions_views,
        catalog_views,
        products_views,
        simulations_views,
        comments_views,
        storage_views,
        search_views,
        settings_views,
        identity_api,
        iam_api,
        orgs_api,
        organizations_api,
        apikeys_api,
        missions_api,
        mission_api,
        products_api,
        org_products_api,
        catalog_api,
        catalog_items_api,
        comments_api,
        search_api,
        org_search_api,
        admin_api,
        settings_api,
        setting_api,
        billing_api,
        org_billing_api,
        webhooks_api,
        credits_api,
        org_credits_api,
        usage_internal,
        privacy_internal,
        privacy_api,
        org_audit_api,
        audit_api,
        security_api,
        org_security_api,
        support_api,
        support_views,
        security_staff_views,
        org_security_views,
        usage_api,
        org_usage_api,
        webhooks_out_api,
        webhook_types_api,
        integrations_views,
    ):
        app.register_blueprint(blueprint)
