"""Every fenced ```python and ```bash block of README.md and docs/*.md is run, so the docs and
the code cannot drift apart.

The blocks of one page run in order, as a reader following the page would run them, in one
temporary directory per page that holds copies of the repository's ``configs/`` and
``examples/`` (whatever a block writes, such as ``work_dirs/`` or a dumped config, lands there,
never in the repository), with ``WANDB_MODE=offline`` and this checkout first on ``PYTHONPATH``;
``torchrig`` on ``PATH`` runs this checkout's CLI with this interpreter. A block run on its own
(``-k``) first runs the blocks above it on its page.

- A ```python block that is a config file (it assigns ``_base_`` or uses ``read_base()``) is
  written to a file and loaded with ``Config.fromfile``: to the path its first line names
  (``# configs/digits/my_config.py``), else to the page's directory root. Any other ```python
  block is run as a script; a ```bash block is run by ``bash -e``.
- The line ``<!-- docs-test: skip (the reason) -->`` right before a block skips it, with that
  reason. Use it only for what CI cannot do (a GPU, a W&B server, network, several machines).
- Blocks that are not meant to be run use another fence language (```text, or none).

The test id is ``<file>:<line>``, the line of the block's opening fence.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)\s*$")
_SKIP = re.compile(r"^\s*<!--\s*docs-test:\s*skip\s*\((?P<reason>.+)\)\s*-->\s*$")
_RUN_LANGS = ("python", "bash")
_TIMEOUT_S = 600


@dataclass(frozen=True)
class Snippet:
    """One fenced block: where it is, its language, its code, and why it is skipped (if it is)."""

    path: Path
    line: int
    lang: str
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def is_config(self) -> bool:
        return self.lang == "python" and bool(
            re.search(r"^_base_\s*=|^with read_base\(\):", self.code, re.MULTILINE)
        )


def extract_snippets(path: Path) -> list[Snippet]:
    """The fenced blocks of one Markdown file, in order (every language, run or not)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    snippets: list[Snippet] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{path}:{index + 1}: code block is never closed")
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        skip = _SKIP.match(previous)
        code = textwrap.dedent("\n".join(lines[index + 1 : end])) + "\n"
        snippets.append(
            Snippet(path, index + 1, opening["lang"], code, skip["reason"] if skip else None)
        )
        index = end + 1
    return snippets


def _doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _runnable_snippets() -> list[Snippet]:
    return [s for path in _doc_files() for s in extract_snippets(path) if s.lang in _RUN_LANGS]


SNIPPETS = _runnable_snippets()


_LOAD_CONFIG = """\
import sys
from torchrig.config import Config

cfg = Config.fromfile(sys.argv[1])
print(cfg.pretty_text)
"""
_CONFIG_PATH = re.compile(r"^# (?P<path>[\w./-]+\.py)\s*$")


class _Page:
    """One page's working directory, environment and the blocks already run in it."""

    def __init__(self, folder: Path):
        for name in ("configs", "examples"):
            shutil.copytree(ROOT / name, folder / name)
        bin_dir = folder / ".bin"
        bin_dir.mkdir()
        cli = bin_dir / "torchrig"
        cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m torchrig "$@"\n')
        cli.chmod(0o755)
        env = dict(os.environ)
        env.update(
            WANDB_MODE="offline",
            WANDB_SILENT="true",
            MPLBACKEND="Agg",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env["PATH"]]),
        )
        env.pop("MLFLOW_TRACKING_URI", None)
        self.folder, self.env, self.done = folder, env, set()

    def command(self, snippet: Snippet) -> list[str]:
        if snippet.lang == "bash":
            return ["bash", "-e", "-c", snippet.code]
        if snippet.is_config:
            named = _CONFIG_PATH.match(snippet.code.splitlines()[0])
            config = self.folder / (named["path"] if named else f"docs_{snippet.line}.py")
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(snippet.code)
            return [sys.executable, "-c", _LOAD_CONFIG, str(config)]
        script = self.folder / f"docs_{snippet.line}_script.py"
        script.write_text(snippet.code)
        return [sys.executable, str(script)]

    def run(self, snippet: Snippet) -> subprocess.CompletedProcess:
        self.done.add(snippet.line)
        return subprocess.run(
            self.command(snippet),
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
        )


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory):
    made: dict[Path, _Page] = {}

    def page(path: Path) -> _Page:
        if path not in made:
            made[path] = _Page(tmp_path_factory.mktemp(path.stem))
        return made[path]

    return page


def _failure(snippet: Snippet, result: subprocess.CompletedProcess) -> str:
    return (
        f"{snippet.id} ({snippet.lang}) failed with exit code {result.returncode}\n"
        f"--- code ---\n{snippet.code}--- stdout ---\n{result.stdout[-4000:]}\n"
        f"--- stderr ---\n{result.stderr[-6000:]}"
    )


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_snippet_runs(snippet: Snippet, pages):
    if snippet.skip:
        pytest.skip(snippet.skip)
    page = pages(snippet.path)
    for earlier in SNIPPETS:
        if earlier.path == snippet.path and earlier.line < snippet.line:
            if not earlier.skip and earlier.line not in page.done:
                result = page.run(earlier)
                assert result.returncode == 0, "a block above failed: " + _failure(earlier, result)
    result = page.run(snippet)
    assert result.returncode == 0, _failure(snippet, result)


def test_every_doc_file_has_snippets_found():
    """The extractor finds the blocks (a broken fence regex must not make every test vanish)."""
    found = {s.path.name for s in SNIPPETS}
    assert {"README.md", "configs.md", "runner.md", "tracking.md"} <= found


def test_skip_marker_is_read(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n<!-- docs-test: skip (needs a GPU) -->\n```bash\nnvidia-smi\n```\n\n"
        "```python\nprint(1)\n```\n  ```text\nnot run\n  ```\n"
    )
    first, second, third = extract_snippets(page)
    assert (first.lang, first.line, first.skip, first.code) == (
        "bash",
        4,
        "needs a GPU",
        "nvidia-smi\n",
    )
    assert (second.lang, second.line, second.skip) == ("python", 8, None)
    assert third.lang == "text" and third.code == "not run\n"
