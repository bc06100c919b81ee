"""The authority's side of a request: the officer's pages, replies, withdrawal, sharing."""
