"""State changes of the requests app: typed services that audit in their transaction."""
