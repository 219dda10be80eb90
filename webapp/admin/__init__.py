"""Platform staff pages: every organization, across tenants, through the audited RLS bypass."""
