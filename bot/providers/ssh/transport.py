"""SSH to a host with paramiko: the host key is checked against known_hosts and never added; every command
has a timeout and comes back as a ``Result`` (command, exit code, trimmed output) for the timeline.

``known_hosts`` is the catalog's lines, or a file; a host whose key is not there (or differs) is refused with
the fingerprint it offered, so a person can check it and add it. Nothing is written to any known_hosts file.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
import time
from dataclasses import dataclass

import paramiko

from bot.strategies.base import RollbackError

NOTHING = "Nothing was changed on it."
OUTPUT_CHARS = 600  # what the timeline keeps of a command's output (the tail, where errors are)


class SshError(RollbackError):
    """An SSH connection or command failed; ``maybe_ran``: the command may have run (its answer was lost)."""

    def __init__(self, message: str, maybe_ran: bool = False) -> None:
        super().__init__(message)
        self.maybe_ran = maybe_ran


class HostKeyRefused(SshError):
    pass


@dataclass(frozen=True)
class Endpoint:
    name: str  # how the catalog and the messages name the host (web-1)
    address: str
    port: int = 22

    @property
    def where(self) -> str:
        return f"{self.name} ({self.address}:{self.port})" if self.port != 22 else f"{self.name} ({self.address})"


@dataclass(frozen=True)
class Access:
    """Who the bot is on the hosts: the user, the private key file, the known host keys, the timeouts."""

    user: str
    key_file: str
    known_hosts: str = ""  # known_hosts lines, from the catalog
    known_hosts_file: str = ""
    connect_timeout: float = 10.0
    command_timeout: float = 60.0


@dataclass(frozen=True)
class Result:
    host: str
    command: str
    exit_code: int
    output: str  # stdout and stderr, trimmed to the last OUTPUT_CHARS
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def line(self) -> str:
        """``web-1: `systemctl restart app` → exit 0 (0.2 s)``, then the output when there is some."""
        said = f": {self.output}" if self.output else ""
        return f"{self.host}: `{self.command}` → exit {self.exit_code} ({self.seconds:.1f} s){said}"


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:…``, as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _trim(text: str) -> str:
    text = text.strip()
    return text if len(text) <= OUTPUT_CHARS else "…" + text[-OUTPUT_CHARS:]


class _Refuse(paramiko.MissingHostKeyPolicy):
    """An unknown host is refused, with the fingerprint it offered (never added)."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyRefused(
            f"the host key of {hostname} is not in the bot's known_hosts (it offered {key.get_name()} "
            f"{fingerprint(key)}); the bot never adds host keys. Check that fingerprint on the host "
            "(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) and add its line to the service's known_hosts."
        )


class Session:
    """One SSH connection to one host; use as a context manager."""

    def __init__(self, endpoint: Endpoint, access: Access) -> None:
        self.endpoint, self.access = endpoint, access
        self._client: paramiko.SSHClient | None = None

    def _known(self, client: paramiko.SSHClient) -> None:
        keys = client.get_host_keys()
        if self.access.known_hosts_file:
            try:
                keys.load(self.access.known_hosts_file)
            except OSError as exc:
                raise SshError(
                    f"the known_hosts file {self.access.known_hosts_file} cannot be read ({exc}); no host was contacted"
                ) from exc
        for line in self.access.known_hosts.splitlines():
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line) if line.strip() else None
            for name in entry.hostnames if entry else ():
                keys.add(name, entry.key.get_name(), entry.key)

    def __enter__(self) -> Session:
        e, a = self.endpoint, self.access
        client = paramiko.SSHClient()
        self._known(client)
        client.set_missing_host_key_policy(_Refuse())
        started = time.monotonic()
        try:
            client.connect(
                e.address,
                port=e.port,
                username=a.user,
                key_filename=a.key_file,
                timeout=a.connect_timeout,
                banner_timeout=a.connect_timeout,
                auth_timeout=a.connect_timeout,
                look_for_keys=False,
                allow_agent=False,
            )
        except HostKeyRefused as exc:
            client.close()
            raise HostKeyRefused(f"{e.where}: {exc}") from None
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyRefused(
                f"{e.where}: its host key CHANGED: it offered {fingerprint(exc.key)}, known_hosts has "
                f"{fingerprint(exc.expected_key)}. The bot refuses the host (a reinstalled host, or someone in "
                "the middle). Check the host's key and update known_hosts by hand."
            ) from None
        except TimeoutError as exc:
            client.close()
            raise SshError(f"{e.where}: SSH timed out after {a.connect_timeout:g} s connecting ({exc})") from None
        except (paramiko.SSHException, OSError) as exc:
            client.close()
            # paramiko words a banner that never comes as "No existing session": tell it by the time it took
            timed_out = time.monotonic() - started >= a.connect_timeout * 0.9 or "timeout" in str(exc).lower()
            said = (
                (
                    f"timed out after {a.connect_timeout:g} s (the host accepted the connection but its SSH "
                    "server did not answer)"
                )
                if timed_out
                else "failed"
            )
            raise SshError(f"{e.where}: SSH connection {said} ({exc or type(exc).__name__}). {NOTHING}") from None
        self._client = client
        return self

    def run(self, command: list[str] | str, timeout: float | None = None) -> Result:
        """Run one command (a list is quoted word by word); its exit code and trimmed output, never raises for a
        non-zero exit. SshError when the connection breaks or ``timeout`` passes (the command may have run)."""
        assert self._client is not None, "not connected"
        text = command if isinstance(command, str) else shlex.join(command)
        limit = timeout or self.access.command_timeout
        started = time.monotonic()
        try:
            channel = self._client.get_transport().open_session(timeout=limit)
            channel.set_combine_stderr(True)
            channel.settimeout(limit)
            channel.exec_command(text)
            output = channel.makefile("rb").read().decode(errors="replace")
            code = channel.recv_exit_status()
        except TimeoutError:
            raise SshError(
                f"{self.endpoint.where}: `{text}` did not finish within {limit:g} s; it may or may "
                "not have taken effect",
                maybe_ran=True,
            ) from None
        except (paramiko.SSHException, OSError) as exc:
            raise SshError(
                f"{self.endpoint.where}: `{text}` failed over SSH ({exc}); it may or may not have taken effect",
                maybe_ran=True,
            ) from None
        return Result(self.endpoint.name, text, code, _trim(output), time.monotonic() - started)

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
