"""Real OpenSSH servers for the sandbox's VM hosts: one ``sshd`` per host on a loopback port, each with its own
host key, one authorized client key, and its own release tree.

Every host is the same machine, so each sshd runs in a mount namespace of its own (``unshare -m``) in which
the host's directory is bound over one shared path (``VmHost.mount``): the catalog names the same release
directory for every host, as it would for real VMs, and each host sees only its own. The host's ``bin/`` is
first on the PATH of its sessions (sshd's ``SetEnv``): its ``systemctl`` is the sandbox's
(``bot/sandbox/vms.py`` writes it).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from bot.sandbox.process import LoopbackProcess, ProcessError

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")  # Debian's sshd refuses to start without its privilege-separation directory


class SshdError(ProcessError):
    pass


def keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at ``path`` (private) and ``path.pub``; returns the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path.with_suffix(".pub").read_text().strip()


class SshdHost(LoopbackProcess):
    """One host's sshd. ``host_dir`` is bound over ``mount`` inside its namespace; ``authorized`` is the client
    key it lets in; ``bin_dir`` leads its sessions' PATH."""

    name = "sshd"
    package = "openssh-server"
    error = SshdError

    def __init__(self, host_dir: Path, mount: Path, authorized: str, bin_dir: Path, start_timeout: float = 10.0):
        super().__init__(shutil.which("unshare") or "/usr/bin/unshare", 0, start_timeout)
        self.host_dir, self.mount, self.authorized, self.bin_dir = host_dir, mount, authorized, bin_dir
        self.host_key = ""  # the public host key line, once started

    def start(self, attempts: int = 3):
        if not Path(SSHD).exists():
            raise SshdError(f"sshd not found ({SSHD}); apt-get install openssh-server")
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        return super().start(attempts)

    def arguments(self, directory: Path) -> list[str]:
        self.host_key = keygen(directory / "ssh_host_ed25519_key", "sandbox-host")
        (directory / "authorized_keys").write_text(self.authorized + "\n")
        config = directory / "sshd_config"
        config.write_text(
            "\n".join(
                (
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {directory / 'ssh_host_ed25519_key'}",
                    f"PidFile {directory / 'sshd.pid'}",
                    f"AuthorizedKeysFile {directory / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "LogLevel ERROR",
                    f"SetEnv PATH={self.bin_dir}:/usr/local/bin:/usr/bin:/bin",
                    "",
                )
            )
        )
        inner = (
            f"mount --bind {shlex.quote(str(self.host_dir))} {shlex.quote(str(self.mount))} && "
            f"exec {SSHD} -D -e -f {shlex.quote(str(config))}"
        )
        return ["-m", "--propagation", "private", "sh", "-c", inner]

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                return s.recv(64).startswith(b"SSH-2.0")
        except OSError:
            return False

    def known_hosts_line(self) -> str:
        """``[127.0.0.1]:port ssh-ed25519 AAAA…``: how known_hosts names a host on another port."""
        kind, key = self.host_key.split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {key}"

    def freeze(self, frozen: bool = True) -> None:
        """Stop (SIGSTOP) or resume the listening sshd: the kernel still accepts connections, nobody answers,
        so a client times out waiting for the banner, as with a host that hangs."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    def stop(self) -> None:
        self.freeze(False)
        super().stop()
