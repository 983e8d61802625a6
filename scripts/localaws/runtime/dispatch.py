"""Serialises moto: every request holds core.LOCK, as every runtime thread that touches moto's models does.
moto's back ends are plain dicts and lists; the runtime's threads change them while requests read them."""
from . import core


def apply():
    from moto.moto_server import werkzeug_app as W
    orig = W.DomainDispatcherApplication.__call__

    def call(self, environ, start_response):
        with core.LOCK:
            return orig(self, environ, start_response)
    W.DomainDispatcherApplication.__call__ = call
