"""Alembic's entry point, run by store.migrations and flows.migrate (no alembic.ini: see alembic_config).

Online, it runs on the connection it is given, inside the caller's transaction and lock. Offline
(`python -m flows.migrate upgrade --sql URL`) it prints the SQL for the URL's dialect instead.
"""

from alembic import context

from store.migrations import VERSION_TABLE
from store.tables import metadata

config = context.config
options = {
    "target_metadata": metadata,
    "version_table": VERSION_TABLE,
    "compare_type": True,
}

if context.is_offline_mode():
    context.configure(url=config.attributes["url"], literal_binds=True, **options)
else:
    connection = config.attributes["connection"]
    # SQLite alters few things in place: autogenerate then writes batch operations (copy and move).
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite", **options)

with context.begin_transaction():
    context.run_migrations()
