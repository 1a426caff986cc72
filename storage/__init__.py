"""The case store: SQLAlchemy models, migrations, the media store."""
