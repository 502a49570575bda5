"""Configuration, database and security helpers of the frontend service."""
