"""Settings: read from ADVISOR_* variables, built lazily, every one documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.config import PROJECT_ROOT, Settings, get_settings


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_K_FINAL", "4")
    monkeypatch.setenv("ADVISOR_DATA_DIR", "/tmp/somewhere")
    get_settings.cache_clear()
    s = get_settings()
    assert s.k_final == 4 and s.data_dir == Path("/tmp/somewhere")
    assert s.resolved_database_url == "sqlite:////tmp/somewhere/advisor.db"
    assert get_settings() is s


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_K_FINAL", "0")
    with pytest.raises(ValueError, match="k_final"):
        Settings()


def test_readme_tables_every_setting() -> None:
    from bot.settings import DoorSettings

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for name in [*Settings.model_fields, *DoorSettings.model_fields]:
        assert f"| `ADVISOR_{name.upper()}` |" in readme, name


def test_core_and_front_door_settings_do_not_overlap() -> None:
    from bot.settings import DoorSettings

    assert set(Settings.model_fields) & set(DoorSettings.model_fields) == set()


def test_the_data_folder_does_not_depend_on_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import advisor.config as config

    monkeypatch.delenv("ADVISOR_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings().data_dir == PROJECT_ROOT / ".advisor"  # run from the checkout
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")  # installed
    from platformdirs import user_data_path

    assert Settings().data_dir == user_data_path("crm-advisor", appauthor=False)
    assert Settings().documents_path == Settings().data_dir / "documents"
