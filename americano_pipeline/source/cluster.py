"""A real PostgreSQL cluster that the project creates and runs itself under ``data/postgres/``.

Why: the pipeline's default must work on a fresh machine with nothing but the Debian ``postgresql`` package,
without touching a system-wide cluster. The server listens on 127.0.0.1 only (plus a unix socket in the data
folder) and every connection, socket or TCP, must authenticate with a password (scram-sha-256, ``initdb --auth``).
The owner (``americano``, the superuser ``initdb`` creates) is for maintenance only: schema, seeding, reset. The
pipeline and the API log in as ``connection.LOGINS``, which ``start`` creates without any privilege beyond logging
in (the grants come with the schema). Every password is generated once per cluster and kept in
``credentials.json`` (mode 0600, readable only by the account that runs the pipeline; under root, not by the
server user); the server only ever receives SCRAM verifiers, so no password can appear in its log.
PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` system user (created as
``americano-pg`` if absent) and the cluster files belong to it.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from americano_pipeline import settings
from americano_pipeline.source.connection import LOGINS, connect

DATABASE = "americano"
OWNER = "americano"
DEBIAN_BINARIES = Path("/usr/lib/postgresql")  # <version>/bin, as Debian's postgresql package installs them
_START_ATTEMPTS = 10
_SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes; ".s.PGSQL.NNNNN" is appended
# Nothing but LOGIN: no superuser, no row-security bypass, and no inheritance should a membership ever be granted.
_LOGIN_ATTRIBUTES = "LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT NOCREATEDB NOCREATEROLE NOREPLICATION"


class ClusterError(RuntimeError):
    """The local cluster cannot be created, started or stopped; the message says why and what to do."""


def _server_binaries() -> Path:
    """Directory holding initdb, pg_ctl and postgres: AMERICANO_PG_BINDIR, Debian's layout, or PATH."""
    candidates = []
    if os.environ.get("AMERICANO_PG_BINDIR"):
        candidates.append(Path(os.environ["AMERICANO_PG_BINDIR"]))
    if DEBIAN_BINARIES.is_dir():
        versions = sorted((p for p in DEBIAN_BINARIES.iterdir() if p.name.isdigit()), key=lambda p: int(p.name),
                          reverse=True)
        candidates.extend(v / "bin" for v in versions)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if all((directory / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise ClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found. Install them with "
        "`apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql@15` (macOS), set "
        "AMERICANO_PG_BINDIR to their directory, or set AMERICANO_DATABASE_URL to use an existing server."
    )


def _server_user() -> str | None:
    """The unprivileged account the server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "americano-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "americano-pg"],
                   check=True, capture_output=True)
    return "americano-pg"


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class LocalCluster:
    """The embedded cluster rooted at ``root`` (default ``<data>/postgres``) and listening on ``port``."""

    root: Path
    port: int

    @classmethod
    def default(cls) -> LocalCluster:
        return cls(settings.data_dir() / "postgres", settings.pg_port())

    @property
    def pgdata(self) -> Path:
        return self.root / "cluster"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.json"

    @property
    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def _credentials(self) -> dict:
        """credentials.json: the owner's ``user`` and ``password``, and ``logins`` (login -> password)."""
        if not self.credentials_file.exists():
            raise ClusterError(f"the local cluster at {self.pgdata} is not initialised; run `americano db start`")
        return json.loads(self.credentials_file.read_text())

    def _store_credentials(self, credentials: dict) -> None:
        """Replace credentials.json atomically with a file that is created readable by its owner only."""
        temporary = self.credentials_file.with_suffix(".tmp")
        temporary.unlink(missing_ok=True)
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            json.dump(credentials, file)
        os.replace(temporary, self.credentials_file)

    def url(self, database: str = DATABASE, *, login: str = OWNER) -> str:
        """postgresql:// URL of ``login`` (default the owner, for maintenance) over TCP on 127.0.0.1."""
        credentials = self._credentials()
        password = credentials["password"] if login == OWNER else credentials.get("logins", {}).get(login)
        if password is None:
            raise ClusterError(f"the local cluster at {self.pgdata} has no login {login} yet; run `americano db start`")
        return f"postgresql://{login}:{password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(_server_binaries() / str(args[0])), *map(str, args[1:])]
        user = _server_user()
        if user:
            command = ["runuser", "-u", user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ClusterError(f"{args[0]} failed: {' / '.join(detail[-3:])} (server log: {self.log_file})")
        return result

    def _hand_over(self, *paths: Path) -> None:
        """Give the cluster's files to the server user and check it can reach them."""
        user = _server_user()
        if not user:
            return
        entry = pwd.getpwnam(user)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        probe = subprocess.run(["runuser", "-u", user, "--", "test", "-w", str(self.root)], capture_output=True)
        if probe.returncode != 0:
            raise ClusterError(
                f"the server user {user!r} cannot write {self.root}: a parent directory is not searchable by "
                "other users; set AMERICANO_DATA_DIR to a directory under /srv, /var or /tmp"
            )

    def _live_postmaster(self, lock_file: Path) -> int | None:
        """PID recorded in ``lock_file`` if it is a running (not zombie) postmaster of this cluster."""
        first = lock_file.read_text().split("\n", 1)[0].strip()
        if not first.isdigit():
            return None
        proc = Path(f"/proc/{first}")
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, IndexError):
            return None
        if state != "Z" and b"postgres" in cmdline and str(self.pgdata).encode() in cmdline:
            return int(first)
        return None

    def pid(self) -> int | None:
        """PID of the running postmaster; removes lock files a crash left behind (stale pid recovery)."""
        locks = [self.pgdata / "postmaster.pid", self.socket_dir / f".s.PGSQL.{self.port}.lock"]
        pid_file = locks[0]
        running = self._live_postmaster(pid_file) if pid_file.exists() else None
        if running is None:
            for lock in locks:
                lock.unlink(missing_ok=True)
        return running

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        pwfile = self.root / ".initdb-password"
        pwfile.write_text(password + "\n")
        self.log_file.touch()
        self._hand_over(self.root, self.pgdata, self.socket_dir, pwfile, self.log_file)
        try:
            self._run("initdb", "-D", self.pgdata, "-U", OWNER, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                      "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions")
        finally:
            pwfile.unlink(missing_ok=True)
        self._store_credentials({"user": OWNER, "password": password, "logins": {}})

    def _server_options(self) -> str:
        sockets = str(self.socket_dir) if len(str(self.socket_dir)) <= _SOCKET_PATH_LIMIT else ""
        return f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='{sockets}'"

    def start(self) -> bool:
        """Start the cluster (initdb on first use), create the database and the logins; False if it was running.

        The database and the logins are checked even when the server was running, so a cluster created before the
        logins existed gets them at the next ``americano db start``, ``seed`` or ``demo``.
        """
        started = self._start_server()
        with connect(self.url("postgres"), autocommit=True) as conn:
            self._create_database(conn)
            self._provision_logins(conn)
        return started

    def _start_server(self) -> bool:
        if self.initialized and self.pid():
            return False
        _server_binaries()  # fail with the install instruction before touching any file
        if _port_in_use(self.port):
            raise ClusterError(
                f"port {self.port} on 127.0.0.1 is taken by another server (not the cluster at {self.pgdata}); "
                "stop it or set AMERICANO_PG_PORT to a free port"
            )
        if not self.initialized:
            self._initdb()
        for attempt in range(_START_ATTEMPTS):
            try:
                self._run("pg_ctl", "-D", self.pgdata, "-l", self.log_file, "-o", self._server_options(), "-w",
                          "-t", "60", "start")
                break
            except ClusterError:
                # After a crash the old server's children may hold shared memory for a moment longer.
                if attempt == _START_ATTEMPTS - 1 or "shared memory" not in self.log_file.read_text()[-2000:]:
                    raise
                time.sleep(1)
        return True

    @staticmethod
    def _create_database(conn: psycopg.Connection) -> None:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def _provision_logins(self, conn: psycopg.Connection) -> None:
        """Create (or turn into) ``LOGINS`` every login whose role or stored password is missing.

        A password is generated only for a login that has none stored, so once per cluster; a role that exists
        without one is a NOLOGIN group of a schema older than the logins, and is altered into a login.
        """
        credentials = self._credentials()
        passwords = credentials.setdefault("logins", {})
        existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                                   [list(LOGINS)])}
        missing = [login for login in LOGINS if login not in passwords or login not in existing]
        for login in missing:
            password = passwords.setdefault(login, secrets.token_urlsafe(24))
            verifier = conn.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
            conn.execute(sql.SQL(f"{{}} ROLE {{}} {_LOGIN_ATTRIBUTES} PASSWORD {{}}").format(
                sql.SQL("ALTER" if login in existing else "CREATE"), sql.Identifier(login), sql.Literal(verifier)))
        if missing:
            self._store_credentials(credentials)

    def stop(self) -> bool:
        """Stop the cluster (fast shutdown); False if it was not running."""
        if not self.initialized or not self.pid():
            return False
        self._run("pg_ctl", "-D", self.pgdata, "-m", "fast", "-w", "-t", "60", "stop")
        return True

    def reset(self) -> None:
        """Stop and delete the cluster and all its data; the next start creates an empty one."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def status(self) -> dict:
        pid = self.pid() if self.initialized else None
        return {"initialized": self.initialized, "running": pid is not None, "pid": pid, "port": self.port,
                "pgdata": str(self.pgdata), "log": str(self.log_file)}
