"""One SSH key pair per environment, made by ssh-keygen, private key mode 0600."""

from __future__ import annotations

from pathlib import Path

from kit import proc


def ensure_keypair(ssh_dir: Path, comment: str, log: Path) -> Path:
    """Return the private key path, generating the pair on first use."""
    ssh_dir.mkdir(parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    key = ssh_dir / "id_ed25519"
    if not key.exists():
        proc.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
            timeout=30,
            log=log,
            what="generating the environment's SSH key pair",
        )
    key.chmod(0o600)
    return key


def public_key(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


def remove_keypair(ssh_dir: Path) -> None:
    for name in ("id_ed25519", "id_ed25519.pub", "known_hosts"):
        (ssh_dir / name).unlink(missing_ok=True)
