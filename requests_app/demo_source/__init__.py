"""The demonstration data source: a platform directory kept in the portal's own database.

An optional app: `portal.settings` installs it in development and tests only, so a
production database has none of its tables. Production reads the platform through the
interface documented in docs/platform-data-source.md (`requests_app.sources.http`).
"""
