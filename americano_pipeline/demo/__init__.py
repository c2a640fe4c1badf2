"""The embedded default: a local PostgreSQL cluster the project manages itself, and synthetic study data."""
