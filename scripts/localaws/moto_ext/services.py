"""Fixes to moto's service APIs that the stack's tests trip over.

- Resource Groups Tagging API: an ECS cluster without tags (tags None) made every GetResources call
  an HTTP 500; treat missing tags as none.
"""
from .check import require


def apply():
    from moto.ecs import models as ecs
    require(ecs, "Cluster")
    orig_init = ecs.Cluster.__init__

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)
        if getattr(self, "tags", None) is None:
            self.tags = []
    ecs.Cluster.__init__ = init
