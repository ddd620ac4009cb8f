"""The import-linter contracts in pyproject.toml hold, and they do catch violations.

Runs `lint-imports` as a subprocess (the console script next to the running
interpreter, or `python -c` on its entry point when the script is missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "knowledge", "storage")


def _lint_command() -> list[str]:
    script = Path(sys.executable).parent / "lint-imports"
    if script.exists():
        return [str(script), "--no-cache"]
    pytest.importorskip("importlinter")
    return [
        sys.executable, "-c",
        "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
        "--no-cache",
    ]


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        _lint_command(), cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_contracts_pass_on_the_repository() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and "0 broken" in result.stdout


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The four packages and pyproject.toml, copied so violations can be planted."""
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("bot/zz_direct_http.py", "import httpx\n"),  # a bot module outside bot.channels
        ("bot/zz_direct_tg.py", "from telegram import Bot\n"),
        ("handlers/zz_sdk.py", "import telegram.ext\n"),
        ("storage/zz_http.py", "import httpx\n"),
        ("knowledge/zz_http.py", "from httpx import AsyncClient\n"),
        ("handlers/zz_up.py", "import bot.config\n"),  # a lower layer importing bot/
        ("storage/zz_up.py", "from handlers import messages\n"),
        ("handlers/zz_indirect.py", "from bot.channels.zalo import client\n"),
    ],
)
def test_a_planted_violation_breaks_a_contract(tree_copy: Path, path: str, source: str) -> None:
    (tree_copy / path).write_text(source, encoding="utf-8")
    result = _lint(tree_copy)
    assert result.returncode != 0, result.stdout[-3000:]
    assert "BROKEN" in result.stdout


def test_bot_modules_may_reach_the_sdks_through_bot_channels(tree_copy: Path) -> None:
    (tree_copy / "bot" / "zz_via_channels.py").write_text(
        "from bot.channels.zalo import Bot\n", encoding="utf-8"
    )
    result = _lint(tree_copy)
    assert result.returncode == 0, result.stdout[-3000:]
