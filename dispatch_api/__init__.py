"""The outward-facing layer: the command line and the dispatch HTTP API."""
