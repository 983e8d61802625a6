"""Start-up guard: every moto name a patch touches must exist."""


class PatchTargetMissing(RuntimeError):
    pass


def require(obj, *names):
    for name in names:
        if not hasattr(obj, name):
            where = getattr(obj, "__name__", type(obj).__name__)
            raise PatchTargetMissing(
                f"local-aws: cannot extend moto: {where}.{name} does not exist in this moto version — "
                f"install the pinned version with scripts/lib/install-local-aws.sh")
