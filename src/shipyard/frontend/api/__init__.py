"""The frontend's HTTP API."""
