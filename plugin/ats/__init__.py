"""ATS integrations: one module per vendor behind `plugin.ats.base.Adapter`, found through `registry`."""
