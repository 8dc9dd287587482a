"""Alembic migrations of the Leerpoort store; they run on SQLite and PostgreSQL alike."""
