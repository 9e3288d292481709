"""The dispatcher console: web pages served by the API itself, working offline.

``install_console(app, ctx)`` adds the session middleware (an API key exchanged once for an
HttpOnly cookie session, CSRF-checked), the sign-in endpoints, the pages and their static
assets, and ``/docs`` / ``/redoc`` with locally served Swagger UI and ReDoc. The pages talk to
the public API only, with the session cookie standing in for the key.
"""

from dispatch_api.console.router import install_console
from dispatch_api.console.sessions import SessionStore

__all__ = ["SessionStore", "install_console"]
