"""HTTPS for the collection app: which certificate to serve, and a self-signed one made once.

Browsers give the camera only to secure pages: ``http://localhost`` and ``http://127.0.0.1``
count as secure, any other address needs HTTPS. So a study whose volunteers reach the server
from other machines needs a certificate: the institution's (``IPE_TLS_CERT``/``IPE_TLS_KEY``), or,
for a LAN study, a self-signed one the kit makes once under ``<home>/tls/`` (ECDSA P-256, ten
years, named for this host, its addresses and ``localhost``). Browsers warn about a self-signed
certificate until the visitor accepts it; the printed SHA-256 fingerprint is what the researcher
reads out (or pins) so volunteers can check they accept the right one.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.errors import SettingsError
from core.files import atomic_write_bytes

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    self_signed: bool

    def fingerprint(self) -> str:
        """SHA-256 of the certificate (DER), as browsers show it: ``AB:CD:...``."""
        der = _der(self.cert)
        return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())

    def spki_sha256(self) -> str:
        """Base64 SHA-256 of the public key (what Chromium's ``--ignore-certificate-errors-spki-list`` takes)."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        cert = x509.load_der_x509_certificate(_der(self.cert))
        spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_files(*, mode: str, host: str, home: Path, cert: Path | None = None, key: Path | None = None,
              names: tuple[str, ...] = ()) -> TlsFiles | None:
    """The certificate to serve, or None for plain HTTP (``mode`` is IPE_TLS: auto, on or off)."""
    if (cert is None) != (key is None):
        raise SettingsError("IPE_TLS_CERT and IPE_TLS_KEY go together: set both, or neither")
    if mode == "off":
        return None
    if cert is not None and key is not None:
        for path, name in ((cert, "IPE_TLS_CERT"), (key, "IPE_TLS_KEY")):
            if not path.is_file():
                raise SettingsError(f"{name}={path} is not a file")
        return TlsFiles(cert, key, self_signed=False)
    if mode == "auto" and is_loopback(host):
        return None
    return self_signed(home / "tls", names=(host, *names))


def self_signed(folder: Path, names: tuple[str, ...] = ()) -> TlsFiles:
    """``folder``'s certificate, made on first use (the key readable by this user only)."""
    files = TlsFiles(folder / "cert.pem", folder / "key.pem", self_signed=True)
    if files.cert.is_file() and files.key.is_file():
        return files
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    dns, ips = set(), set()
    for name in ("localhost", "127.0.0.1", socket.gethostname(), *names):
        if not name or name in ("0.0.0.0", "::"):
            continue
        try:
            ips.add(ipaddress.ip_address(name))
        except ValueError:
            dns.add(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"IPE study server {socket.gethostname()}")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in sorted(dns)] +
                                                       [x509.IPAddress(i) for i in sorted(ips, key=str)]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    atomic_write_bytes(files.key, key_pem)
    files.key.chmod(0o600)
    atomic_write_bytes(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    return files


def _der(pem_path: Path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem_path.read_bytes()).public_bytes(Encoding.DER)
