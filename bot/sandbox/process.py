"""A real server binary (Prometheus, Alertmanager) run for the sandbox on a free loopback port.

Its files live in a throwaway directory (in /dev/shm when there is one) removed on stop. ``start()`` returns
once the subclass's ``ready()`` holds; a port we picked that another process took before the server bound
it (parallel test workers bind ports too) is picked again.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.sandbox.httpserver import free_port, scratch_dir

log = logging.getLogger(__name__)


class ProcessError(RuntimeError):
    pass


class LoopbackProcess:
    """Subclasses give ``name``, ``package``, ``arguments(dir)`` and ``ready()`` (and may explain a timeout)."""

    name = "server"
    package = ""  # the Debian package that ships the binary
    error: type[ProcessError] = ProcessError

    def __init__(self, binary: str, port: int, start_timeout: float) -> None:
        self.port = port or free_port()
        self._chosen_port = not port
        self.binary = binary
        self.start_timeout = start_timeout
        self._dir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def directory(self) -> Path:
        assert self._dir is not None, "not started"
        return self._dir

    def arguments(self, directory: Path) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def not_ready(self) -> str:
        """What to say when ``ready()`` never held."""
        return f"{self.name} on {self.url} was not ready within {self.start_timeout:g} s"

    def start(self, attempts: int = 3):
        if not Path(self.binary).exists():
            raise self.error(f"{self.name} binary not found ({self.binary}); apt-get install {self.package}")
        for _ in range(attempts - 1):
            try:
                return self._start_once()
            except ProcessError as exc:
                if not (self._chosen_port and "address already in use" in str(exc)):
                    raise
                log.warning("port %d was taken before %s bound it; picking another", self.port, self.name)
                self.port = free_port()
        return self._start_once()

    def _start_once(self):
        self._dir = Path(scratch_dir(f"sandbox-{self.name}-"))
        args = self.arguments(self._dir)
        self._log = open(self._dir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [self.binary, *args], stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise self.error(f"{self.name} exited with code {self._proc.returncode}:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise self.error(f"{self.not_ready()}:\n{self.log_tail()}")

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request(path)

    def request(self, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url + path, data=data), timeout=2) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def log_tail(self, lines: int = 20) -> str:
        if not self._dir or not (self._dir / "server.log").exists():
            return "(no log)"
        return "\n".join((self._dir / "server.log").read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._log:
            self._log.close()
            self._log = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
