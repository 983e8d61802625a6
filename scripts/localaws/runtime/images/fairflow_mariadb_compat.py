"""The local AWS's RDS is MariaDB (Debian 12 has no MySQL 8 server); Airflow targets MySQL. One statement
Airflow 3.3 issues breaks on MariaDB: the scheduler's asset-orphanage cleanup (every
`[scheduler] parsing_cleanup_interval`, 60 s) is `WITH anon_1 AS (SELECT ...) DELETE FROM asset_active WHERE
EXISTS (SELECT * FROM anon_1 WHERE ...)`, valid on MySQL 8, a syntax error (1064) on MariaDB 10.11, which
has no CTE before DELETE. The scheduler then exits and ECS replaces it, every minute.

This hook (loaded by a .pth file in the local Airflow image's venv only) rewrites exactly that shape, only on
a MariaDB connection, into the equivalent derived table: `DELETE FROM t WHERE EXISTS (SELECT * FROM (SELECT
...) AS anon_1 WHERE ...)`. Nothing else is touched; on MySQL (RDS) it never fires.
"""
import re

_SHAPE = re.compile(r"^\s*WITH\s+(\w+)\s+AS\s*\n?\((?P<cte>.*)\)\s*(?P<rest>DELETE\s+FROM\s.*)$", re.S | re.I)


def rewrite(statement: str) -> str:
    m = _SHAPE.match(statement)
    if not m or statement.upper().count(" AS \n(") > 1:
        return statement
    name, cte, rest = m.group(1), m.group("cte"), m.group("rest")
    inlined, n = re.subn(rf"\bFROM\s+{name}\b", f"FROM ({cte}) AS {name}", rest, count=1)
    return inlined if n == 1 else statement


def _install():
    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
    except Exception:  # noqa: BLE001 - no SQLAlchemy, nothing to do
        return

    @event.listens_for(Engine, "before_cursor_execute", retval=True)
    def _mariadb_cte_delete(conn, cursor, statement, parameters, context, executemany):
        if getattr(conn.dialect, "is_mariadb", False) and statement.lstrip()[:4].upper() == "WITH":
            statement = rewrite(statement)
        return statement, parameters


class _Finder:
    """Installs the hook when SQLAlchemy's engine is first imported (so a plain `python` pays nothing)."""

    def find_spec(self, name, path=None, target=None):
        if name != "sqlalchemy.engine":
            return None
        import sys
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec and spec.loader:
            orig = spec.loader.exec_module

            def exec_module(module):
                orig(module)
                _install()
            spec.loader.exec_module = exec_module
        return spec


def register():
    import sys
    if "sqlalchemy.engine" in sys.modules:
        _install()
    else:
        sys.meta_path.insert(0, _Finder())
