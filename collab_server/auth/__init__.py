"""Identity and authorization: the provider interface, built-in providers, the Jupyter adapter.

Operators implement :class:`AuthorizationProvider` (see ``provider.py``) and select it with
``--CollabServer.authorization_provider_class=package.module.Class``.
"""

from .provider import (
    ACTIONS,
    ROLE_ACTIONS,
    AuthorizationProvider,
    color_for,
    decide_by_roles,
    identity_of,
    implied_actions,
    implies,
    path_covers,
    resolve,
    strongest_role,
)
from .single_token import SingleTokenProvider

__all__ = [
    "ACTIONS",
    "ROLE_ACTIONS",
    "AuthorizationProvider",
    "SingleTokenProvider",
    "color_for",
    "decide_by_roles",
    "identity_of",
    "implied_actions",
    "implies",
    "path_covers",
    "resolve",
    "strongest_role",
]
