"""Identity and authorization: the provider interface, built-in providers, the Jupyter adapter.

Operators implement :class:`AuthorizationProvider` (see ``provider.py``) and select it with
``--CollabServer.authorization_provider_class=package.module.Class``.
"""

from .provider import (
    ACTIONS,
    AuthorizationProvider,
    color_for,
    identity_of,
    implied_actions,
    implies,
    path_covers,
    resolve,
)
from .single_token import SingleTokenProvider

__all__ = [
    "ACTIONS",
    "AuthorizationProvider",
    "SingleTokenProvider",
    "color_for",
    "identity_of",
    "implied_actions",
    "implies",
    "path_covers",
    "resolve",
]
