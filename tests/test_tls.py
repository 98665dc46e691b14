"""HTTPS for the collection app: when it is served, and the self-signed certificate made once."""
from __future__ import annotations

import ssl
import subprocess
import sys

import pytest

from core.errors import SettingsError
from core.tls import self_signed, tls_files
from tests.conftest import REPO


def test_when_https_is_served(tmp_path) -> None:
    assert tls_files(mode="auto", host="127.0.0.1", home=tmp_path) is None  # this machine: a secure context already
    assert tls_files(mode="off", host="0.0.0.0", home=tmp_path) is None
    lan = tls_files(mode="auto", host="0.0.0.0", home=tmp_path)
    assert lan is not None and lan.self_signed and lan.cert.parent == tmp_path / "tls"
    assert tls_files(mode="on", host="localhost", home=tmp_path) == lan  # made once, then kept
    given = tls_files(mode="auto", host="127.0.0.1", home=tmp_path, cert=lan.cert, key=lan.key)
    assert given is not None and not given.self_signed
    with pytest.raises(SettingsError, match="go together"):
        tls_files(mode="auto", host="127.0.0.1", home=tmp_path, cert=lan.cert)
    with pytest.raises(SettingsError, match="is not a file"):
        tls_files(mode="auto", host="127.0.0.1", home=tmp_path, cert=tmp_path / "no.pem", key=lan.key)


def test_self_signed_certificate_serves_tls_for_its_names(tmp_path) -> None:
    files = self_signed(tmp_path / "tls", names=("study.test",))
    assert oct(files.key.stat().st_mode & 0o777) == "0o600"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert, files.key)  # a real key pair that a TLS server accepts
    decoded = ssl._ssl._test_decode_cert(str(files.cert))
    assert ("DNS", "study.test") in decoded["subjectAltName"] and ("DNS", "localhost") in decoded["subjectAltName"]
    assert len(files.fingerprint().split(":")) == 32 and len(files.spki_sha256()) == 44


def test_tls_command_prints_files_and_fingerprint(tmp_path) -> None:
    env = {"IPE_HOME": str(tmp_path), "IPE_TLS": "on", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "app", "tls"], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == [str(tmp_path / "tls" / "cert.pem"), str(tmp_path / "tls" / "key.pem")]
    assert "SHA-256 fingerprint: " in out.stderr
    bad = subprocess.run([sys.executable, "-m", "app", "tls"], cwd=REPO, env={**env, "IPE_TLS": "maybe"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "IPE_TLS" in bad.stderr and bad.stdout == ""
