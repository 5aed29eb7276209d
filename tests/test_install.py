"""`pip install .` as an operator does it: the wheel ships gunicorn's settings and every data file,
and the installed Pilar keeps its store and keys out of site-packages."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import requests

from pilar.settings import PROJECT_ROOT, instance_folder
from testkit.servers import free_port, wait_until

pytestmark = pytest.mark.slow

DATA = ["pilar/web/templates", "pilar/web/static", "pilar/web/translations/id/LC_MESSAGES", "pilar/cases/data"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(PROJECT_ROOT)],
                   check=True, capture_output=True, env=os.environ | {"PYTHONWARNINGS": "ignore"})
    return next(out.glob("pilar-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel; its dependencies are this one's (a .pth file), for speed."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(subprocess.run([venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([venv / "bin/python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    return venv


def test_the_wheel_ships_gunicorns_settings_every_package_and_every_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pilar/gunicorn_conf.py", "pilar/gunicorn_worker.py", "pilar/wsgi.py", "pilar/cli.py",
            "pilar/settings.py"} <= names
    source = {str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "pilar").rglob("*.py")}
    assert source - names == set(), "modules left out of the wheel"
    data = {str(p.relative_to(PROJECT_ROOT)) for folder in DATA for p in (PROJECT_ROOT / folder).iterdir()
            if p.suffix in (".html", ".css", ".mo", ".po", ".csv", ".gz")}
    assert {"pilar/web/translations/id/LC_MESSAGES/messages.mo", "pilar/cases/data/pacitan_wilayah.csv"} <= data
    assert data - names == set(), "data files left out of the wheel"
    # One name in site-packages: pilar (and its dist-info), nothing generic like api, cases or wsgi.
    assert {n.split("/")[0] for n in names} == {"pilar", next(n.split("/")[0] for n in names if ".dist-info/" in n)}


def _run(venv: Path, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def _site_files(venv: Path) -> set[str]:
    site = next((venv / "lib").glob("python3*/site-packages"))
    return {str(p.relative_to(site)) for p in site.rglob("*") if "__pycache__" not in p.parts}


def test_the_installed_pilar_serves_from_an_instance_folder_of_its_own(installed, store_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PILAR_", "PYTHONPATH"))}
    site = next((installed / "lib").glob("python3*/site-packages"))
    show = "from pilar.settings import Settings; print(Settings.from_env({}).instance_path)"
    default = _run(installed, "python", "-c", show, env=env, cwd=tmp_path)  # root here: /var/lib/pilar is checked, never created, by reading settings
    assert default.stdout.strip() == "/var/lib/pilar", default.stderr

    inside = _run(installed, "pilar", "db", "init", env=env | {"PILAR_INSTANCE_PATH": str(site / "instance")},
                  cwd=tmp_path)
    assert inside.returncode == 1
    refusal = f"the instance folder {site / 'instance'} (PILAR_INSTANCE_PATH) is inside the installed package"
    assert refusal in inside.stderr
    assert not (site / "instance").exists()

    before = _site_files(installed)
    env |= {"PILAR_INSTANCE_PATH": str(tmp_path / "instance"), "PILAR_LOG_FORMAT": "text",
            "PILAR_DATABASE_URL": store_url}
    assert _run(installed, "pilar", "db", "init", env=env, cwd=tmp_path).returncode == 0
    port = free_port()
    server = subprocess.Popen([installed / "bin/python", "-m", "gunicorn", "-c", "python:pilar.gunicorn_conf",
                               "-b", f"127.0.0.1:{port}", "pilar.wsgi:app"],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        # The projection process runs (started by the shipped settings): /readyz says so.
        wait_until(lambda: requests.get(f"{url}/readyz", timeout=2).status_code == 200, 30, "ready")
        page = requests.get(f"{url}/sign-in", headers={"Accept-Language": "id"}, timeout=5)
        assert page.status_code == 200 and "Masuk" in page.text  # a template, and its compiled catalogue
        assert requests.get(f"{url}/assets/pilar.css", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(30)
    assert {"secret_key", "kek", "lookup_key"} <= {p.name for p in (tmp_path / "instance").iterdir()}
    assert _site_files(installed) == before, "the installed Pilar wrote into site-packages"


def test_an_instance_folder_that_cannot_be_written_is_refused_naming_it(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(ValueError, match=f"the instance folder {blocked / 'instance'} \\(PILAR_INSTANCE_PATH\\) "
                                         f"cannot be written by this user"):
        instance_folder(str(blocked / "instance"))
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ValueError, match="cannot be written"):
            instance_folder(str(locked / "instance"))
    assert instance_folder(None, root=tmp_path, installed=False) == tmp_path / "instance"
    with pytest.raises(ValueError, match=r"\(PILAR_INSTANCE_PATH\) is inside the installed package"):
        instance_folder(str(tmp_path / "site-packages" / "x"), root=tmp_path / "site-packages", installed=True)
