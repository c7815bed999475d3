"""Two real databases for the sandbox: a ``primary`` (the one in use) and a ``fallback`` (where to go back).

Debian's ``mariadb-server`` (the runbooks' MySQL) runs in its own data directory on a free loopback port,
started only when a World asks for it (``World(databases=True)``), and holds both as two databases of one
server. Without the binary, the sandbox uses two scratch databases of the PostgreSQL on 127.0.0.1:5432 (trust
auth, database ``test``) and says so in the log; without either it raises ``DatabaseError``.

Each database holds a Flyway ``flyway_schema_history`` (``V1``..``V12`` when it starts; ``migrate`` applies more,
as the scenario does between releases) and an ``orders`` table the service writes to (``write_orders``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

import sqlalchemy as sa

from bot.sandbox.process import LoopbackProcess, ProcessError

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
NAMES = ("primary", "fallback")
# The migrations every world starts with (Flyway's version, description): the schema v1.2.x ran on.
BASELINE = tuple(
    (str(v), d)
    for v, d in enumerate(
        (
            "init",
            "create_orders",
            "add_customers",
            "index_orders_created",
            "add_payments",
            "orders_status",
            "add_refunds",
            "payments_currency",
            "add_carts",
            "legacy_carts",
            "orders_total",
            "customers_email",
        ),
        start=1,
    )
)


class DatabaseError(ProcessError):
    pass


class MariaDbProcess(LoopbackProcess):
    """``mariadbd`` in a throwaway data directory (``mariadb-install-db`` first), TCP on loopback only, no
    grant tables (a sandbox: anyone on loopback is root)."""

    name = "mariadb"
    package = "mariadb-server"
    error = DatabaseError

    def __init__(self, port: int = 0, binary: str | None = None, start_timeout: float = START_TIMEOUT) -> None:
        found = binary or shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
        super().__init__(found, port, start_timeout)

    def arguments(self, directory: Path) -> list[str]:
        data = directory / "data"
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db") or "mariadb-install-db"
        done = subprocess.run(
            [install, "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db",
             "--auth-root-authentication-method=normal"],
            capture_output=True, text=True, timeout=self.start_timeout,
        )  # fmt: skip
        if done.returncode:
            raise DatabaseError(f"mariadb-install-db failed ({done.returncode}): {done.stderr[-800:]}")
        return [
            "--no-defaults", f"--datadir={data}", f"--port={self.port}", "--bind-address=127.0.0.1",
            f"--socket={directory / 'mysqld.sock'}", f"--pid-file={directory / 'mysqld.pid'}", "--user=root",
            "--skip-grant-tables", "--skip-name-resolve", "--innodb-buffer-pool-size=16M", "--skip-log-bin",
        ]  # fmt: skip

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                return bool(sock.recv(4))  # the server's greeting
        except OSError:
            return False

    def sqlalchemy_url(self, database: str = "") -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"


class SandboxDatabases:
    """The world's two databases; ``urls`` (name -> read-only SQLAlchemy URL for the bot), ``kind`` (``mariadb`` or
    ``postgresql``)."""

    def __init__(self, prefer: str = "mariadb") -> None:
        self.prefer = prefer
        self.kind = ""
        self.server: MariaDbProcess | None = None
        self.urls: dict[str, str] = {}
        self._admin = ""
        self._names: dict[str, str] = {}

    def start(self) -> SandboxDatabases:
        server = MariaDbProcess()
        if self.prefer == "mariadb" and Path(server.binary).exists():
            self.server = server.start()
            self.kind, self._admin = "mariadb", self.server.sqlalchemy_url()
            self._names = {n: f"sandbox_{n}" for n in NAMES}
        else:
            why = "mariadb-server is not installed" if self.prefer == "mariadb" else f"{self.prefer} was asked for"
            log.warning("%s: the sandbox uses two PostgreSQL databases on 127.0.0.1:5432", why)
            self.kind, self._admin = "postgresql", f"{POSTGRES}/test"
            tag = secrets.token_hex(4)
            self._names = {n: f"sandbox_{tag}_{n}" for n in NAMES}
        self._create()
        for name in NAMES:
            self.migrate(name, BASELINE)
            self.write_orders(name, 100)
        return self

    def _root(self, database: str) -> str:
        return self.server.sqlalchemy_url(database) if self.server else f"{POSTGRES}/{database}"

    def _create(self) -> None:
        engine = sa.create_engine(self._admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for db in self._names.values():
                    conn.execute(sa.text(f"CREATE DATABASE {db}"))
        except sa.exc.OperationalError as exc:
            raise DatabaseError(f"cannot create the sandbox databases on {self.kind}: {exc}") from exc
        finally:
            engine.dispose()
        for name, db in self._names.items():
            self.urls[name] = self._root(db)
            with self.engine(name).begin() as conn:
                conn.execute(sa.text(FLYWAY_TABLE))
                conn.execute(sa.text(ORDERS_TABLE))

    def engine(self, name: str) -> sa.Engine:
        return sa.create_engine(self.urls[name], poolclass=sa.pool.NullPool)

    def migrate(self, name: str, migrations: tuple[tuple[str, str], ...], by: str = "flyway") -> None:
        """Apply Flyway migrations (version, description) to database ``name``, as a release's deploy does."""
        with self.engine(name).begin() as conn:
            rank = conn.execute(sa.text("SELECT COALESCE(MAX(installed_rank), 0) FROM flyway_schema_history")).scalar()
            for i, (version, description) in enumerate(migrations, start=rank + 1):
                conn.execute(
                    sa.text(
                        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,"
                        " installed_by, installed_on, execution_time, success)"
                        " VALUES (:r, :v, :d, 'SQL', :s, :by, :on, 12, :ok)"
                    ),
                    {"r": i, "v": version, "d": description, "s": f"V{version}__{description}.sql", "by": by,
                     "on": dt.datetime(2026, 1, 1) + dt.timedelta(days=i), "ok": True},
                )  # fmt: skip

    def write_orders(self, name: str, count: int) -> None:
        """``count`` more orders in database ``name`` (the service's writes)."""
        with self.engine(name).begin() as conn:
            conn.execute(
                sa.text("INSERT INTO orders (customer, total, updated_at) VALUES (:c, :t, :u)"),
                [{"c": f"c{i % 17}", "t": i % 90 + 0.5, "u": dt.datetime(2026, 1, 2)} for i in range(count)],
            )

    def count(self, name: str, table: str = "orders") -> int:
        with self.engine(name).connect() as conn:
            return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar())

    def scratch(self) -> tuple[str, str]:
        """A new empty database on the same server (name, URL), dropped with the rest on stop."""
        db = f"{next(iter(self._names.values()))}_scratch_{secrets.token_hex(3)}"
        engine = sa.create_engine(self._admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {db}"))
        engine.dispose()
        self._names[db] = db
        self.urls[db] = self._root(db)
        return db, self.urls[db]

    def stop(self) -> None:
        if self.server:
            self.server.stop()  # its data directory goes with it
        elif self._names:
            engine = sa.create_engine(self._admin, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as conn:
                    for db in self._names.values():
                        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            except sa.exc.SQLAlchemyError:
                log.exception("dropping the sandbox databases")
            finally:
                engine.dispose()
        self._names, self.urls = {}, {}


FLYWAY_TABLE = """CREATE TABLE flyway_schema_history (
    installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL,
    type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL,
    installed_on TIMESTAMP NOT NULL, execution_time INT NOT NULL, success BOOLEAN NOT NULL)"""
ORDERS_TABLE = """CREATE TABLE orders (
    id SERIAL PRIMARY KEY, customer VARCHAR(40) NOT NULL, total DECIMAL(10, 2) NOT NULL,
    updated_at TIMESTAMP NOT NULL)"""
