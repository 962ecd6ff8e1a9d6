"""ATS integrations: one package per vendor behind `plugin.ats.base.Adapter`, found through `registry`.

Each vendor package (`greenhouse`, `lever`, `ashby`, `workable`) has the same shape: `client` (the
vendor's REST API), `mapping` (vendor objects to canonical events), `webhooks` (a delivery to events),
`polling` (one reconciliation page, and the events of stored pages); its `__init__` holds the adapter.
"""
