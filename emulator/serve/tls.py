"""HTTPS on the production host names: a local CA kept on disk, and a server certificate it signs.

The CA (``ca.pem``, ``ca-key.pem``, EC P-256, ten years) is made on first start in the TLS
directory and reused on every start after, so a client that trusted it once keeps trusting it;
a user may put their own CA there instead. The server certificate is made at each start for
the names a client addresses: ``bda.tencentcloudapi.com``, its regional forms, the failover
domains ``.com.cn`` and ``.cn``, ``localhost``, ``127.0.0.1``, ``::1`` and configured extra
names (a Compose service name). TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy. The
private keys are written with mode 0600 and never leave the directory (nor reach a log).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PRODUCTION_NAMES", "ca_pem", "ensure_ca", "server_context"]

#: The regions bda's SDKs name in regional endpoints (``bda.<region>.tencentcloudapi.com``).
REGIONS = ("ap-beijing", "ap-guangzhou", "ap-shanghai", "ap-chengdu", "ap-chongqing",
           "ap-nanjing", "ap-hongkong", "ap-singapore", "ap-tokyo", "ap-seoul", "ap-bangkok",
           "ap-mumbai", "na-siliconvalley", "na-ashburn", "eu-frankfurt", "sa-saopaulo")
DOMAINS = ("tencentcloudapi.com", "tencentcloudapi.com.cn", "tencentcloudapi.cn")
#: Every production host name of bda the emulator answers for (and, as a proxy, intercepts).
PRODUCTION_NAMES: tuple[str, ...] = tuple(
    name for domain in DOMAINS
    for name in (f"bda.{domain}", *(f"bda.{region}.{domain}" for region in REGIONS)))
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"
CERT_FILE, KEY_FILE = "server.pem", "server-key.pem"


def ensure_ca(directory: Path) -> None:
    """Make the CA in ``directory`` unless it is already there (kept across restarts)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if (directory / CA_FILE).is_file() and (directory / CA_KEY_FILE).is_file():
        return
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bda-emulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "bda-emulator local CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    _write(directory / CA_KEY_FILE, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), secret=True)
    _write(directory / CA_FILE, cert.public_bytes(serialization.Encoding.PEM))


def ca_pem(directory: Path) -> bytes:
    """The CA certificate clients should trust."""
    return (directory / CA_FILE).read_bytes()


def server_context(directory: Path, extra_names: Iterable[str] = ()) -> ssl.SSLContext:
    """An SSL context with a fresh server certificate, signed by the CA, for every name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ensure_ca(directory)
    ca_cert = x509.load_pem_x509_certificate(ca_pem(directory))
    ca_key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{directory / CA_KEY_FILE}: an EC private key is expected")
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for name in dict.fromkeys((*PRODUCTION_NAMES, *LOCAL_NAMES, *extra_names)):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        PRODUCTION_NAMES[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=397))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(directory / KEY_FILE, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), secret=True)
    _write(directory / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM)
           + ca_cert.public_bytes(serialization.Encoding.PEM))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    context.load_cert_chain(directory / CERT_FILE, directory / KEY_FILE)
    return context


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    """Write atomically; private keys readable by the owner only."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temporary, path)
