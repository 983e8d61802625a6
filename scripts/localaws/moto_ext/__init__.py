"""fairflow's extensions to moto, applied in-process before moto's server starts.

apply() patches moto through its own extension points (new CloudFormationModel subclasses, replaced
model classmethods, wrapped module functions). Every patch target is checked first, so a moto upgrade
that renames one fails at start-up with a clear message instead of silently doing nothing.
"""

MOTO_PIN = "5.2.1"
_applied = False


def apply():
    global _applied
    if _applied:
        return
    from . import auth, cfn_engine, cfn_patches, cfn_types, services, templateurl, kmsfix, runtime
    auth.apply()
    templateurl.apply()
    kmsfix.apply()
    import runtime as real_runtime  # scripts/localaws/runtime: the stack really runs (--run)
    if not real_runtime.core.enabled():
        runtime.apply()   # the stand-in: counts only
    cfn_types.apply()
    cfn_patches.apply()
    cfn_engine.apply()
    services.apply()
    real_runtime.apply()
    _applied = True
