"""A real, throwaway PostgreSQL server for the tests (no mock): ``initdb`` + ``pg_ctl`` in a temp folder.

The server runs as the ``postgres`` user when the tests run as root (PostgreSQL refuses
root), listens on a unix socket in its own folder and on a free localhost TCP port with
password (SCRAM) authentication, so tests can also try wrong passwords. Missing binaries
are an error with the install line, never a skip: CI (``.ci/run``) installs them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "test-secret"
_SEARCH = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # Debian's versioned folders


def find_bin(name: str) -> str:
    """The path of a PostgreSQL server program; RuntimeError naming the package when missing."""
    found = shutil.which(name) or next((str(d / name) for d in _SEARCH if (d / name).is_file()), None)
    if found is None:
        raise RuntimeError(
            f"PostgreSQL server program {name!r} not found (PATH or /usr/lib/postgresql/*/bin): the "
            "department-mode tests need a real server — install it with `apt-get install postgresql`"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server: its folder, port, and a superuser URL per database."""

    root: Path
    port: int
    user: str | None  # the OS user it runs as (None: this process's user)
    startup_s: float
    options: str = ""  # the server options it was started with (``resume`` reuses them)

    def url(self, dbname: str = "postgres", *, user: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args) if self.user is None else ["runuser", "-u", self.user, "--", *args]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def halt(self) -> None:
        """Stop the server but keep its data: a server that went down (``resume`` starts it again)."""
        self._run(find_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start a halted server again, on the same port with the same data."""
        self._run(find_bin("pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-o",
                  self.options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run(find_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start(*, durable: bool = False) -> PgServer:
    """initdb + pg_ctl start in a new temp folder; returns once the server accepts connections.

    Tests run with ``fsync=off`` (fast; they kill clients, never the machine); ``durable``
    keeps the server's defaults (fsync, synchronous_commit on), as for the measurements.
    """
    initdb = find_bin("initdb")
    t0 = time.monotonic()
    user: str | None = None
    root = Path(tempfile.mkdtemp(prefix="xdpg-"))  # short: unix socket paths are limited to ~107 bytes
    if os.geteuid() == 0:
        user = "postgres"
        try:
            ent = pwd.getpwnam(user)
        except KeyError:
            raise RuntimeError("running as root, but there is no 'postgres' user to run the test server as "
                               "(apt-get install postgresql creates it)") from None
        os.chown(root, ent.pw_uid, ent.pw_gid)
    server = PgServer(root, _free_port(), user, 0.0)
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if user is not None:
        shutil.chown(pwfile, user)
    try:
        server._run(initdb, "-D", str(root / "data"), "-U", "postgres", "--pwfile", str(pwfile), "-E", "UTF8",
                    "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={root} "
                "-c max_connections=60" + ("" if durable else " -c fsync=off -c full_page_writes=off"))
        server.options = opts
        server.resume()
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text(errors="replace")[-2000:] if (root / "log").exists() else ""
        server.stop()
        raise RuntimeError(f"could not start the test PostgreSQL server: {exc.stderr or exc.stdout}{log}") from exc
    server.startup_s = time.monotonic() - t0
    return server
