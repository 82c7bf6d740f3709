"""A throwaway certificate authority for the replay proxy's CONNECT tunnels.

Like mitmproxy or warcprox, the proxy makes a CA at start (never written anywhere lasting) and
signs, per tunnelled host, a leaf certificate whose SubjectAlternativeName names that host. Scrapy
(which does not verify) then sees no hostname mismatch; a client that wants to verify trusts
:attr:`ReplayCA.pem`.
"""

from __future__ import annotations

import ipaddress
import ssl
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _certificate(
    common_name: str, issuer: x509.Name | None, public_key, signer, *extensions
) -> x509.Certificate:
    """A 30-day X.509 v3 certificate; self-signed when ``issuer`` is None."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def _subject_alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:  # not an IP literal: a DNS name, IDNs in their ASCII (A-label) form
        return x509.DNSName(host if host.isascii() else host.encode("idna").decode("ascii"))


class ReplayCA:
    """A fresh CA; :meth:`context` gives a cached server context with a leaf cert for a host."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        leaf_key = ec.generate_private_key(ec.SECP256R1())  # one key for all leaves, as mitmproxy
        self._leaf_public_key = leaf_key.public_key()
        self._leaf_key_pem = leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.cert = _certificate(
            "sangrah replay CA", None, self._key.public_key(), self._key,
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (x509.KeyUsage(key_cert_sign=True, crl_sign=True, digital_signature=False,
                           content_commitment=False, key_encipherment=False,
                           data_encipherment=False, key_agreement=False, encipher_only=False,
                           decipher_only=False), True),
        )  # fmt: skip
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context(self, host: str) -> ssl.SSLContext:
        """The server context for ``host`` (a CONNECT host or SNI name), made once per host."""
        host = host.strip("[]").lower()  # "[::1]" is an IPv6 literal
        with self._lock:  # one leaf per host even when tunnels to it open concurrently
            if host not in self._contexts:
                self._contexts[host] = self._leaf_context(host)
            return self._contexts[host]

    def _leaf_context(self, host: str) -> ssl.SSLContext:
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        leaf = _certificate(
            host, self.cert.subject, self._leaf_public_key, self._key,
            (x509.SubjectAlternativeName([_subject_alt_name(host)]), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False),
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])
        with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain only reads from files
            path = Path(tmp, "leaf.pem")
            path.write_bytes(self._leaf_key_pem + leaf.public_bytes(serialization.Encoding.PEM))
            context.load_cert_chain(path)
        return context
