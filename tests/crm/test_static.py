"""Static files in production: WhiteNoise serves collectstatic's hashed, compressed copies."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
from django.conf import settings

from tests.crm.test_settings import PRODUCTION_ENV, _manage

SHOW_STORAGE = "from django.conf import settings; print('STORAGE', settings.STORAGES['staticfiles']['BACKEND'])"


def storage_in(env: dict[str, str]) -> str:
    result = _manage("shell", "-c", SHOW_STORAGE, env=env)
    return next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("STORAGE"))


def test_production_settings_select_the_compressed_manifest_storage():
    assert storage_in(PRODUCTION_ENV) == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    debug_env = {"DJANGO_SETTINGS_MODULE": "crm.settings", "DJANGO_DEBUG": "true"}
    assert storage_in(debug_env) == "django.contrib.staticfiles.storage.StaticFilesStorage"


def test_whitenoise_comes_right_after_the_security_middleware():
    middleware = settings.MIDDLEWARE
    security = middleware.index("django.middleware.security.SecurityMiddleware")
    assert middleware[security + 1] == "whitenoise.middleware.WhiteNoiseMiddleware"


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """collectstatic into a temporary STATIC_ROOT with the production settings."""
    root = tmp_path_factory.mktemp("staticfiles")
    env = {**PRODUCTION_ENV, "DJANGO_STATIC_ROOT": str(root)}
    result = _manage("collectstatic", "--no-input", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return root, env


@pytest.mark.slow
@pytest.mark.parametrize("name", ["css/crm.css", "django_htmx/htmx-2.min.js", "js/selection.js"])
def test_collectstatic_makes_hashed_and_compressed_copies(collected, name):
    root, _env = collected
    hashed = json.loads((root / "staticfiles.json").read_text())["paths"][name]
    assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", hashed), hashed
    assert (root / hashed).is_file()
    assert (root / f"{hashed}.gz").is_file()
    if importlib.util.find_spec("brotli"):  # WhiteNoise makes .br copies only with the brotli package
        assert (root / f"{hashed}.br").is_file()


@pytest.mark.slow
def test_pages_name_the_hashed_files(collected):
    root, env = collected
    paths = json.loads((root / "staticfiles.json").read_text())["paths"]
    probe = (
        "from django.test import Client; "
        "print(Client().get('/login/', secure=True, HTTP_HOST='crm.example.com').content.decode())"
    )
    result = _manage("shell", "-c", probe, env=env)
    assert result.returncode == 0, result.stderr
    for name in ["css/crm.css", "django_htmx/htmx-2.min.js"]:
        assert f'"/static/{paths[name]}"' in result.stdout, name
        assert f'"/static/{name}"' not in result.stdout
