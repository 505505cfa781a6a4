"""The one ingest path (bot/training/policies.py): `policy-coach ingest` and the upload page both record versions."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli
from bot.training import policies, reports
from bot.training.store import Store
from knowledge.encoder import load_encoder
from knowledge.index import load
from tests.test_ingest_cli import GARDEN_V1, GARDEN_V2


@pytest.fixture
def env(tmp_path, monkeypatch, sqlite_url) -> Store:
    monkeypatch.setenv("POLICY_COACH_MODEL", "hashing")
    monkeypatch.setenv("POLICY_COACH_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("POLICY_COACH_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return Store(sqlite_url)


def garden(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "files" / "garden.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def ingest(*paths: Path) -> int:
    return cli.main(["ingest", *map(str, paths), "--quiet"])


def test_cli_ingest_records_a_version_for_each_new_or_changed_policy_only(env, tmp_path, capsys):
    assert ingest(garden(tmp_path, GARDEN_V1)) == 0
    [first] = reports.policy_versions(env)
    assert (first["policy"], first["title"], first["uploaded_by"]) == ("garden", "Garden Safety Policy", None)
    assert first["checksum"] == load(tmp_path / "index").policies["garden"]["checksum"]
    assert {"1.1", "1.2", "1.3", "2.1"} <= set(first["added"].split(", ")) and first["wording"] == []

    assert ingest(garden(tmp_path, GARDEN_V1)) == 0  # unchanged: nothing new in the history
    assert len(reports.policy_versions(env)) == 1

    assert ingest(garden(tmp_path, GARDEN_V2)) == 0
    latest = reports.policy_versions(env)[0]
    assert len(reports.policy_versions(env)) == 2
    assert (latest["added"], latest["removed"]) == ("2.2", "1.3")
    wording = {w["clause"]: w for w in latest["wording"]}
    assert "Power tools must never" in wording["1.3"]["old"] and wording["1.3"]["new"] == ""
    assert "Wellington boots" in wording["2.2"]["new"] and wording["2.2"]["kind"] == "added"
    assert "updated garden: 1 added, 1 removed" in capsys.readouterr().out


def test_cli_ingest_still_indexes_when_the_database_is_down(env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:1/none")
    assert ingest(garden(tmp_path, GARDEN_V1)) == 0
    assert "garden" in load(tmp_path / "index").policies
    assert "the policy versions were not recorded" in capsys.readouterr().err


def test_the_upload_page_and_the_cli_record_the_same_history(env, tmp_path, capsys):
    from ui.policy_admin import upload_policy

    assert ingest(garden(tmp_path, GARDEN_V1)) == 0
    result = upload_policy(env, "garden.txt", GARDEN_V2.encode(), replaces="garden", uploaded_by="coord@school.example")
    assert result.ok and result.status == "updated", result.message
    latest, first = reports.policy_versions(env)
    assert (latest["uploaded_by"], latest["added"], latest["removed"]) == ("coord@school.example", "2.2", "1.3")
    assert first["uploaded_by"] is None and first["policy"] == latest["policy"] == "garden"
    # the page labels clauses for people ("1.3 · 1 Tools"); the CLI records the bare clause id
    assert {w["clause"]: w["label"] for w in latest["wording"]}["1.3"] == "1.3 · 1 Tools"
    assert [w["clause"] for w in latest["wording"]] == [w["clause"] for w in result.wording]


def test_ingest_policies_without_a_store_only_indexes(tmp_path):
    index = tmp_path / "index"
    report, versions = policies.ingest_policies([garden(tmp_path, GARDEN_V1)], index, load_encoder("hashing"))
    assert report.added == ["garden"] and [(v.policy, v.status) for v in versions] == [("garden", "added")]
    report, versions = policies.ingest_policies([garden(tmp_path, GARDEN_V2)], index, load_encoder("hashing"))
    [version] = versions
    assert version.status == "updated" and version.changes["removed"] == ["1.3"]
    assert version.checksum == load(index).policies["garden"]["checksum"]
