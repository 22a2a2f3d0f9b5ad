"""Study storage (SQLAlchemy models and Alembic migrations): arrives with the studies issue."""
