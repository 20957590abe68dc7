"""README's main job (its first bash block) runs as written, minus the installation: the
``torchrig train ...`` command after the last ``&&``, from a fresh directory."""

from __future__ import annotations

import re
import subprocess
import time

from tests.test_docs.test_docs import ROOT, _Page, extract_snippets


def main_job_command() -> str:
    first = next(s for s in extract_snippets(ROOT / "README.md") if s.lang == "bash")
    command = first.code.strip().split("&&")[-1].strip()
    assert re.match(r"(WANDB_MODE=offline )?torchrig train \S+\.py$", command), command
    return command


def test_readme_main_job_trains_tracks_and_says_where_things_are(tmp_path):
    page = _Page(tmp_path)
    started = time.perf_counter()
    result = subprocess.run(
        ["bash", "-e", "-c", main_job_command()],
        cwd=page.folder,
        env=page.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-4000:]
    summary = result.stdout[result.stdout.index("torchrig: training finished") :]
    for what in ("checkpoints:", "log:", "W&B run:", "wandb sync", "curves:"):
        assert what in summary, summary
    work_dir = page.folder / "work_dirs" / "digits_mlp_wandb"
    assert (work_dir / "curves.png").is_file() and list(work_dir.glob("*/vis_data/wandb"))
    assert re.search(r"Epoch\(val\) \[20\]\[\d+/\d+\]\s+accuracy/top1: 9\d\.\d+", result.stdout)
    print(f"README main job: {seconds:.1f} s")
