"""``python -m app tls``: the certificate `scripts/run.sh` serves HTTPS with (see core/tls.py)."""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tls", help="print the HTTPS certificate and key files to serve (nothing: plain HTTP)",
        description="Resolves IPE_TLS, IPE_TLS_CERT/IPE_TLS_KEY and IPE_HOST: prints the certificate and key paths "
        "(one a line) on stdout, or nothing for plain HTTP; makes a self-signed certificate under <home>/tls once "
        "when one is needed and none is given, and prints its SHA-256 fingerprint on stderr.")
    parser.add_argument("--name", action="append", default=[],
                        help="another host name volunteers use (goes into a new self-signed certificate)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.paths import DataHome
    from core.settings import load_settings
    from core.tls import tls_files

    settings = load_settings()
    files = tls_files(mode=settings.tls, host=settings.host, home=DataHome.resolve().root,
                      cert=settings.tls_cert, key=settings.tls_key, names=tuple(args.name))
    if files is None:
        return 0
    print(files.cert)
    print(files.key)
    kind = "self-signed certificate" if files.self_signed else "certificate"
    print(f"HTTPS with the {kind} {files.cert}\n  SHA-256 fingerprint: {files.fingerprint()}\n"
          f"  public key (SPKI) SHA-256, base64: {files.spki_sha256()}", file=sys.stderr)
    return 0
