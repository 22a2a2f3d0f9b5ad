"""autotune's trial records, stored in the same database as the Optuna study they belong to.

Optuna's tables stay Optuna's: autotune adds its own tables, migrated by its own Alembic
history (version table ``autotune_alembic_version``), so the database remains one that
``optuna.load_study`` and optuna-dashboard open as usual. The service adds two (revision 0004):
the queue of submitted studies and the API tokens (``ServiceStore``).
"""

from storage._engine import database_unavailable, describe, input_error, serialize_sqlite
from storage._service import ServiceStore
from storage._service_models import STATES, QueuedStudy, StoredToken
from storage._store import ResultStore, SchemaRevisionError, default_storage_url

__all__ = [
    "STATES",
    "QueuedStudy",
    "ResultStore",
    "SchemaRevisionError",
    "ServiceStore",
    "StoredToken",
    "database_unavailable",
    "default_storage_url",
    "describe",
    "input_error",
    "serialize_sqlite",
]
