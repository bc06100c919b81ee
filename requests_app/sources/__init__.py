"""Platform data sources: where disclosed records come from.

``DataSource.lookup(scope)`` answers for each target what the platform holds in the
asked categories and period. Whatever a source returns, ``records_within_scope`` cuts it
to the approved targets, categories and period again: an adapter that says too much
cannot widen a disclosure.
"""
