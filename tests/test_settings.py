"""The suite's settings are its own: a developer's `.env` or exported hub variables never reach a test.

A `.env` in the working directory is how a developer configures the hub on a laptop (their own database,
production mode to try something). Read by the suite, it would point tests at that database or refuse to
start them; tests/conftest.py switches the file and those variables off for the whole run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from settings import Settings

if TYPE_CHECKING:
    from pathlib import Path


#: What a developer's `.env` might hold: production mode, their own database and issuer.
HOSTILE_ENV_FILE = """\
LEERPOORT_MODE=production
LEERPOORT_PSEUDONYM_KEY=a-developers-own-production-key
DATABASE_URL=postgresql://developer:secret@db.example.org/leerpoort
LEERPOORT_ISSUER=https://leerpoort.example.org
"""


def test_settings_in_the_suite_ignore_a_env_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(HOSTILE_ENV_FILE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # The file is a real one: read on purpose, it switches the hub to production on the developer's database.
    developers = Settings(_env_file=env_file)
    assert (developers.mode, developers.engine_name) == ("production", "postgresql")

    settings = Settings()

    assert settings.mode == "sandbox"
    assert settings.database_url == "sqlite+aiosqlite:///./leerpoort.db"
    assert settings.issuer == "http://127.0.0.1:8000"


def test_trusted_proxies_that_are_not_addresses_stop_the_start() -> None:
    settings = Settings(LEERPOORT_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")
    assert settings.proxies == ("127.0.0.1", "10.0.0.0/8")
    with pytest.raises(ValidationError, match=r"'proxy\.internal' is not an address or range"):
        Settings(LEERPOORT_TRUSTED_PROXIES="127.0.0.1,proxy.internal")
