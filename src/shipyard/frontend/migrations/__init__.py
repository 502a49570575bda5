"""Alembic migrations of the frontend database, run by `shipyard frontend init`."""
