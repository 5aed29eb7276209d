"""Debian's nginx, run as the current user from a temporary prefix, with deploy/nginx/pilar.conf as its
site: only the ports, the certificate's paths and gunicorn's address are replaced (tests/test_nginx.py)."""

import datetime
import getpass
import ipaddress
import os
import shutil
import signal
import subprocess
from pathlib import Path

from pilar.settings import PROJECT_ROOT
from testkit.servers import free_port, wait_until

SITE = PROJECT_ROOT / "deploy" / "nginx" / "pilar.conf"
# What the test replaces in the site file; each must be there exactly once, so the file run is the one shipped.
PLACES = ("listen 80;", "listen [::]:80;", "listen 443 ssl http2;", "listen [::]:443 ssl http2;",
          "server 127.0.0.1:8000;", "/etc/ssl/pilar/fullchain.pem;", "/etc/ssl/pilar/privkey.pem;")


def nginx_binary() -> str:
    """Debian's nginx, installed when missing (as the Makefile installs chromium)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        install = "apt-get install -y nginx || (apt-get update && apt-get install -y nginx)"
        subprocess.run(["sh", "-c", install], check=True, capture_output=True, timeout=600)
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Nginx:
    def __init__(self, prefix: Path, upstream_port: int):
        self.prefix = prefix
        self.http_port, self.https_port = free_port(), free_port()
        self.http_url, self.url = f"http://127.0.0.1:{self.http_port}", f"https://127.0.0.1:{self.https_port}"
        self.cert, key = self_signed(prefix)
        site = SITE.read_text()
        for place in PLACES:
            assert site.count(place) == 1, f"{SITE} no longer has {place!r} once"
        values = (f"listen 127.0.0.1:{self.http_port};", "", f"listen 127.0.0.1:{self.https_port} ssl http2;", "",
                  f"server 127.0.0.1:{upstream_port};", f"{self.cert};", f"{key};")
        for place, value in zip(PLACES, values):
            site = site.replace(place, value)
        (prefix / "pilar.conf").write_text(site)
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""  # else nginx's workers run as nobody
        temp = " ".join(f"{kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                          "scgi"))
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(f"""{user}
worker_processes 1;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} warn;
daemon off;
events {{ worker_connections 512; }}
http {{
    access_log {prefix / 'access.log'};
    {temp}
    include {prefix / 'pilar.conf'};
}}
""")
        self.binary = nginx_binary()
        self.process: subprocess.Popen | None = None

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, "-t", "-p", str(self.prefix), "-c", str(self.conf)], capture_output=True,
                              text=True)

    def __enter__(self) -> "Nginx":
        self.process = subprocess.Popen([self.binary, "-p", str(self.prefix), "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import requests

        wait_until(lambda: requests.get(f"{self.http_url}/", timeout=1, allow_redirects=False).status_code, 15, "nginx")
        return self

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGQUIT)  # graceful: lets its workers finish
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
