"""`rasa test` on the test stories: happy and unhappy quiz paths, policy questions, stale replies."""
from __future__ import annotations

import json
import subprocess

import pytest

from bot.ops.stack import MODEL, RASA_BIN, ROOT, rasa_env

pytestmark = pytest.mark.slow


def test_every_test_story_passes(tmp_path):
    if not MODEL.exists():
        pytest.fail("No trained Rasa model: run `make model` first")
    out = tmp_path / "results"
    proc = subprocess.run(
        [str(RASA_BIN), "test", "core", "--stories", str(ROOT / "tests" / "rasa" / "test_stories.yml"),
         "--model", str(MODEL), "--out", str(out), "--no-plot"],
        cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "story_report.json").read_text())
    failed = (out / "failed_test_stories.yml").read_text()
    assert report["conversation_accuracy"]["accuracy"] == 1.0, failed
    assert report["conversation_accuracy"]["total"] >= 6
