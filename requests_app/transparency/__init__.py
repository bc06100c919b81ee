"""The public transparency report: figures per country and period, published as snapshots.

Its own Django app (label ``transparency``) inside ``requests_app``, so that its
migrations never interleave with those of the legal requests themselves.
"""
