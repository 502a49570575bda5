"""Database operations, one module per resource."""
