"""`nightshift skills list` and `nightshift notes` as a user runs them: a subprocess on the embedded Redis."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import sh

CLI = str(Path(sys.executable).parent / "nightshift")


def nightshift(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NIGHTSHIFT_DATA_DIR": str(tmp_path / "d")}
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def repo_with_docs(tmp_path: Path) -> Path:
    src, bare = tmp_path / "src", tmp_path / "docs.git"
    (src / ".nightshift" / "skills").mkdir(parents=True)
    (src / "AGENTS.md").write_text("Always run `make lint`.\n" * 3000)  # 72 kB: cut to the limit
    (src / ".nightshift" / "skills" / "release.md").write_text(
        "---\nname: cut-release\ndescription: Tag and publish a release.\n---\nRun `make release`.\n"
    )
    (src / ".nightshift" / "skills" / "oops.md").write_text("no front matter\n")
    sh("git", "init", "-q", "-b", "main", cwd=src)
    sh("git", "add", "-A", cwd=src)
    sh("git", "commit", "-q", "-m", "docs", cwd=src)
    sh("git", "clone", "-q", "--bare", str(src), str(bare))
    return bare


def test_skills_list_shows_what_the_agent_will_see(tmp_path: Path) -> None:
    repo = str(repo_with_docs(tmp_path))
    done = nightshift(tmp_path, "skills", "list", "--repo", repo)
    assert done.returncode == 0, done.stderr
    assert "cut-release" in done.stdout and ".nightshift/skills/release.md" in done.stdout
    assert "regression-test-first" in done.stdout and "skills/regression-test-first.md" in done.stdout
    assert "AGENTS.md: 72,000 bytes in the prompt, cut to 24,000 bytes" in done.stdout
    assert "not used:" in done.stderr and "oops.md: no front matter" in done.stderr

    nightshift(tmp_path, "notes", "add", "--repo", repo, "--as", "ana", "Release on Tuesdays only.")
    prompt = nightshift(tmp_path, "skills", "list", "--repo", repo, "--prompt")
    assert prompt.returncode == 0, prompt.stderr
    assert "- cut-release: Tag and publish a release." in prompt.stdout
    assert "<AGENTS.md>\nAlways run `make lint`." in prompt.stdout and "read_file AGENTS.md" in prompt.stdout
    assert "- Release on Tuesdays only." in prompt.stdout


def test_notes_commands(tmp_path: Path, remote: Path) -> None:
    repo = str(remote)
    added = nightshift(tmp_path, "notes", "add", "--repo", repo, "--as", "ana", "We use pnpm, not npm.")
    assert added.returncode == 0, added.stderr
    note_id = added.stdout.split()[0]
    listed = nightshift(tmp_path, "notes", "list", "--repo", repo)
    assert "We use pnpm, not npm." in listed.stdout and "ana" in listed.stdout and note_id in listed.stdout
    edited = nightshift(tmp_path, "notes", "edit", "--repo", repo, note_id, "We use pnpm 9.")
    assert edited.returncode == 0 and "We use pnpm 9." in edited.stdout
    assert nightshift(tmp_path, "notes", "rm", "--repo", repo, note_id).returncode == 0
    assert "no notes" in nightshift(tmp_path, "notes", "list", "--repo", repo).stdout
    gone = nightshift(tmp_path, "notes", "rm", "--repo", repo, note_id)
    assert gone.returncode == 2 and f"has no note {note_id!r}" in gone.stderr and "Traceback" not in gone.stderr
