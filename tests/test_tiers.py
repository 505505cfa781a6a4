"""The fast tier stays honest: a test not marked slow that loads the real model or starts a browser fails."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = '''
import pytest

def test_loads_the_model():
    from knowledge.encoder import Encoder
    Encoder("all-MiniLM-L6-v2")

def test_starts_a_browser():
    from selenium.webdriver import Chrome
    Chrome()

@pytest.mark.slow
def test_marked_slow_is_left_alone():
    from knowledge.encoder import Encoder
    assert Encoder.__init__.__name__ == "__init__"
'''


def test_a_fast_test_that_loads_the_model_or_a_browser_fails_with_the_reason(tmp_path):
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: integration\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert "2 failed, 1 passed" in out, out[-3000:]
    assert "test_probe.py::test_loads_the_model loads the real sentence-transformers model but is not marked slow" in out
    assert "test_probe.py::test_starts_a_browser starts a browser but is not marked slow" in out
