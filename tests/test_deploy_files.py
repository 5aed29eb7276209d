"""deploy/, read: the compose file's services and their order, the image's base, user, volume and
entry point naming real modules and commands, and the systemd units as systemd reads them. The image
and the compose stack are built and run for real in tests/test_image.py, deploy/nginx/pilar.conf
in front of gunicorn in tests/test_nginx.py."""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from pilar.settings import INSTALLED_INSTANCE, PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
BIN = Path(sys.executable).parent  # where pip put `pilar` and `gunicorn` in this environment


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _modules() -> set[str]:
    """The modules directly in the pilar package, which the wheel ships whole (tests/test_install.py)."""
    return {p.stem for p in (PROJECT_ROOT / "pilar").glob("*.py")}


def test_the_compose_file_sets_up_the_store_once_before_pilar_behind_nginx():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "setup", "net", "pilar", "nginx"}
    assert services["db"]["image"].startswith("postgres:")
    setup = services["setup"]
    assert setup["entrypoint"] == ["pilar"] and setup["command"] == ["db", "init"]
    assert setup["depends_on"]["db"]["condition"] == "service_healthy"
    assert (PROJECT_ROOT / setup["build"]["dockerfile"]).is_file()
    assert (DEPLOY / setup["build"]["context"]).resolve() == PROJECT_ROOT
    assert services["pilar"]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    for name in ("setup", "pilar"):  # one image; the keys db init writes are where the server reads them
        assert services[name]["image"] == "pilar:latest"
        assert services[name]["volumes"] == [f"instance:{INSTALLED_INSTANCE}"]
        assert services[name]["environment"]["PILAR_TRUSTED_PROXIES"] == "1"
        assert services[name]["environment"]["PILAR_DATABASE_URL"].startswith("postgresql://pilar:")
    # pilar and nginx share a network namespace (gunicorn stays on 127.0.0.1) that neither holds, so
    # either may restart: `net` holds it, publishing nginx's ports, and does nothing else.
    net = services["net"]
    assert net["image"] == "pilar:latest" and net["entrypoint"] == ["sleep", "infinity"]
    assert [port.rsplit(":", 1)[1] for port in net["ports"]] == ["80", "443"]
    assert "ports" not in services["pilar"] and "ports" not in services["nginx"]
    assert services["pilar"]["network_mode"] == services["nginx"]["network_mode"] == "service:net"
    graceful = int(re.search(r"^graceful_timeout = (\d+)$", (PROJECT_ROOT / "pilar" / "gunicorn_conf.py").read_text(),
                             re.MULTILINE).group(1))
    assert int(services["pilar"]["stop_grace_period"].removesuffix("s")) > graceful  # requests finish before SIGKILL
    nginx = services["nginx"]
    site = nginx["volumes"][0].rsplit(":", 2)
    assert (DEPLOY / site[0]).resolve() == DEPLOY / "nginx" / "pilar.conf"
    assert site[1] == "/etc/nginx/conf.d/default.conf"
    assert nginx["volumes"][1].rsplit(":", 2)[1:] == ["/etc/ssl/pilar", "ro"]
    assert "/etc/ssl/pilar/fullchain.pem" in (DEPLOY / "nginx" / "pilar.conf").read_text()
    assert set(compose["volumes"]) == {"pgdata", "instance"}


def test_the_image_is_debian_slim_non_root_with_the_instance_a_volume_and_gunicorn_its_entry_point():
    steps = _instructions(DEPLOY / "Dockerfile")
    bases = [args for step, args in steps if step == "FROM"]
    assert bases and all(re.match(r"debian:bookworm-slim\b", base) for base in bases)
    final = steps[max(i for i, (step, _) in enumerate(steps) if step == "FROM"):]
    users = [args for step, args in final if step == "USER"]
    assert users == ["pilar"]
    assert ("VOLUME", str(INSTALLED_INSTANCE)) in final
    assert any(step == "ENV" and f"PILAR_INSTANCE_PATH={INSTALLED_INSTANCE}" in args for step, args in final)
    entry = json.loads(next(args for step, args in final if step == "ENTRYPOINT"))
    assert entry == ["gunicorn", "-c", "python:pilar.gunicorn_conf", "pilar.wsgi:app"]
    assert {"gunicorn_conf", "wsgi"} <= _modules()
    assert PYPROJECT["project"]["scripts"]["pilar"] == "pilar.cli:main"  # compose's setup runs `pilar`
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".venv", "instance", ".git"} <= set(ignored)


def test_the_systemd_units_run_gunicorn_and_the_projection_process_apart(tmp_path):
    units = {name: (DEPLOY / "systemd" / name).read_text() for name in ("pilar.service", "pilar-project.service")}
    server, projector = units["pilar.service"], units["pilar-project.service"]
    assert "ExecStart=/opt/pilar/bin/gunicorn -c python:pilar.gunicorn_conf pilar.wsgi:app" in server
    assert "PILAR_PROJECTOR=off" in server  # the projection process is the other unit
    assert "ExecStart=/opt/pilar/bin/pilar project" in projector
    for text in units.values():
        assert f"PILAR_INSTANCE_PATH={INSTALLED_INSTANCE}" in text and f"ReadWritePaths={INSTALLED_INSTANCE}" in text
        assert "ExecStartPre=/opt/pilar/bin/pilar db init" in text and "User=pilar" in text
    for command in (["project", "--help"], ["db", "init", "--help"]):  # the commands the units name exist
        assert subprocess.run([BIN / "pilar", *command], capture_output=True).returncode == 0
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed here")
    for name, text in units.items():  # as installed, with /opt/pilar being this environment
        (tmp_path / name).write_text(text.replace("/opt/pilar/bin/", f"{BIN}/"))
    verified = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / name) for name in units)],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def test_nginx_lets_go_of_idle_upstream_connections_before_gunicorn_and_times_clients_out_no_later():
    site = (DEPLOY / "nginx" / "pilar.conf").read_text()
    upstream = re.search(r"upstream pilar \{(.*?)\}", site, re.DOTALL).group(1)
    gunicorn_keepalive = int(re.search(r"^keepalive = (\d+)$", (PROJECT_ROOT / "pilar" / "gunicorn_conf.py").read_text(),
                                       re.MULTILINE).group(1))
    assert int(re.search(r"keepalive_timeout (\d+)s;", upstream).group(1)) < gunicorn_keepalive
    worker = (PROJECT_ROOT / "pilar" / "gunicorn_worker.py").read_text()
    for nginx_name, setting in (("client_header_timeout", "PILAR_HEADER_TIMEOUT"),
                                ("client_body_timeout", "PILAR_BODY_TIMEOUT")):
        ours = int(re.search(rf"{nginx_name} (\d+)s;", site).group(1))
        assert ours <= int(re.search(rf'_seconds\("{setting}", (\d+)\)', worker).group(1))
