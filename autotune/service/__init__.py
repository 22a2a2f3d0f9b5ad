"""autotune as a service: a REST API over the study database, tokens, and queue workers.

``create_app``/``serve`` make the FastAPI application (``autotune serve``); ``drain`` is what
``autotune worker`` runs without ``--study-name``; ``create_token`` is ``autotune token
create``. Routers are thin over ``autotune.study.queue`` and ``autotune.study.read``.
"""

from autotune.service._app import MAX_BODY, create_app, is_loopback, serve
from autotune.service._auth import SCOPES, create_token
from autotune.service._worker import drain

__all__ = ["MAX_BODY", "SCOPES", "create_app", "create_token", "drain", "is_loopback", "serve"]
