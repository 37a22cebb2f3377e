"""Alembic environment.

- From the hub (hub.db.engine.migrate, `hub db ...`): runs on the connection it is handed, which
  already holds the migration lock.
- From plain `alembic` in the repository (alembic.ini): the database is the hub's own, from the
  settings object (HUB_DATABASE_URL, else the SQLite file in HUB_DATA_DIR), under the same lock.
"""

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from hub.db import tables  # noqa: F401  (registers the tables on SQLModel.metadata)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    from hub.settings import load_settings

    return (
        context.config.get_main_option("sqlalchemy.url") or load_settings().effective_database_url
    )


if context.config.config_file_name is not None:  # plain `alembic`: alembic.ini's logging
    from logging.config import fileConfig

    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
elif context.is_offline_mode():
    from hub.db.engine import normalise_url

    context.configure(
        url=normalise_url(_database_url()),
        target_metadata=SQLModel.metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    from hub.db.engine import make_engine, migration_lock

    engine = make_engine(_database_url())
    try:
        with migration_lock(engine) as conn:
            _run(conn)
    finally:
        engine.dispose()
