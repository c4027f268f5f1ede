"""Skills and repo knowledge with real files: the built-in skills, a repository's own skills and AGENTS.md/CLAUDE.md
(capped), read the same way from a sandbox (what a session sees) and from the control plane's mirror (what
`nightshift skills list` shows), then rendered into the system prompt and loaded with the load_skill tool."""

from pathlib import Path

import pytest
from conftest import sh
from spine import marker, run_to_end

from control_plane.git import Mirrors
from control_plane.repo_knowledge import knowledge_at
from control_plane.runtime import Runtime
from harness.events import ToolResult
from harness.prompt import system_prompt
from harness.sandboxes import SandboxSpec
from harness.sandboxes.local import LocalSandboxConfig, LocalSandboxProvider
from harness.skills import (
    KnowledgeLimits,
    RepoKnowledge,
    SandboxFiles,
    SkillError,
    builtin_skills,
    cap_doc,
    parse_skill,
    repo_knowledge,
)
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use

REQUIRED = {
    "open-pull-request",
    "address-review-comments",
    "triage-alert",
    "regression-test-first",
    "fix-failing-ci",
    "resolve-merge-conflicts",
    "screenshot-web-change",
}
AGENTS_MD = "# Agents\n\nRun `make test` before you finish.\n" + "".join(f"- rule {i}: be nice\n" for i in range(2000))
REPO_SKILLS = {
    "deploy.md": "---\nname: deploy-preview\ndescription: Deploy a preview build.\n"
    "when_to_use: After UI changes.\n---\nRun `make preview`.\n",
    "pr.md": "---\nname: open-pull-request\ndescription: Our own PR rules.\n---\nTitle PRs as `area: change`.\n",
    "broken.md": "no front matter here\n",
    "badname.md": "---\nname: Bad Name\ndescription: x\n---\nbody\n",
}
LIMITS = KnowledgeLimits(repo_doc_limit_bytes=20_000)


def test_builtin_skills_cover_the_common_kinds_of_work() -> None:
    skills = {s.name: s for s in builtin_skills()}
    assert set(skills) >= REQUIRED
    for skill in skills.values():
        assert skill.description and skill.when_to_use and len(skill.body) > 300 and skill.source == "builtin"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("# just markdown\n", "no front matter"),
        ("---\nname: x\n---\nbody", "description"),
        ("---\nname: Has Spaces\ndescription: d\n---\n", "name"),
        ("---\n- a list\n---\n", "must be a mapping"),
        ("---\nname: [unclosed\n---\n", "not valid YAML"),
    ],
)
def test_bad_skill_files_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(SkillError, match=says):
        parse_skill(text, source="repo", path=".nightshift/skills/x.md")


def test_front_matter_accepts_dashed_keys_and_folded_text() -> None:
    skill = parse_skill(
        "---\nname: x\ndescription: >\n  two\n  lines\nwhen-to-use: always\n---\n\nBody.\n", source="repo", path="p"
    )
    assert (skill.description, skill.when_to_use, skill.body) == ("two lines\n", "always", "Body.")


@pytest.fixture
def knowledge_repo(tmp_path: Path) -> Path:
    """A bare repository with AGENTS.md (too long), CLAUDE.md (a link to it) and .nightshift/skills/."""
    src, bare = tmp_path / "ksrc", tmp_path / "knowledge.git"
    (src / ".nightshift" / "skills").mkdir(parents=True)
    (src / "AGENTS.md").write_text(AGENTS_MD)
    (src / "CLAUDE.md").symlink_to("AGENTS.md")
    for name, text in REPO_SKILLS.items():
        (src / ".nightshift" / "skills" / name).write_text(text)
    sh("git", "init", "-q", "-b", "main", cwd=src)
    sh("git", "add", "-A", cwd=src)
    sh("git", "commit", "-q", "-m", "knowledge", cwd=src)
    sh("git", "clone", "-q", "--bare", str(src), str(bare))
    return bare


async def test_sandbox_and_mirror_see_the_same_knowledge(tmp_path: Path, knowledge_repo: Path) -> None:
    from_mirror = await knowledge_at(Mirrors(tmp_path / "mirrors"), str(knowledge_repo), None, LIMITS)

    provider = LocalSandboxProvider(LocalSandboxConfig(root_dir=tmp_path / "sandboxes"))
    sandbox = await provider.create(SandboxSpec(session_id="k1"))
    await sandbox.write_file("AGENTS.md", AGENTS_MD.encode())
    await sandbox.exec("ln -s AGENTS.md CLAUDE.md")
    for name, text in REPO_SKILLS.items():
        await sandbox.write_file(f".nightshift/skills/{name}", text.encode())
    from_sandbox = await repo_knowledge(SandboxFiles(sandbox), builtin_skills(), LIMITS)
    await sandbox.terminate()

    assert from_sandbox == from_mirror
    k = from_mirror
    # CLAUDE.md is the same file: shown once; AGENTS.md is cut at a line end, with a note saying where and how big
    [doc] = k.docs
    assert (doc.path, doc.size_bytes, doc.cut) == ("AGENTS.md", len(AGENTS_MD), True)
    assert doc.text.startswith("# Agents") and len(doc.text.encode()) < 20_300
    assert f"of {len(AGENTS_MD):,} bytes shown" in doc.text and "read_file AGENTS.md" in doc.text
    skills = {s.name: s for s in k.skills}
    assert skills["open-pull-request"].source == "repo" and "area: change" in skills["open-pull-request"].body
    assert skills["deploy-preview"].when_to_use == "After UI changes."
    assert set(skills) >= REQUIRED  # the other built-ins stay
    assert len(k.problems) == 2
    assert any("broken.md: no front matter" in p for p in k.problems)
    assert any("badname.md" in p and "name" in p for p in k.problems)


def test_system_prompt_lists_skills_and_carries_the_repo_docs() -> None:
    knowledge = RepoKnowledge(skills=builtin_skills(), docs=[cap_doc("AGENTS.md", b"Use tabs.\n", 100)])
    prompt = system_prompt(repo="r", workdir="/workspace", branch="b", knowledge=knowledge)
    assert "- regression-test-first: Fix a bug by first writing a test" in prompt
    assert "<AGENTS.md>\nUse tabs.\n</AGENTS.md>" in prompt
    assert "load_skill" in prompt and "spawn_session" not in prompt  # no capability, no mention
    assert not knowledge.docs[0].cut


async def test_a_session_is_told_the_skills_and_loads_one(
    rt: Runtime, standin: AnthropicStandIn, knowledge_repo: Path
) -> None:
    tag, first = marker(), []

    def load(req: RecordedRequest) -> Reply:
        first.append(req)
        return Reply(tool_use("load_skill", {"name": "open-pull-request"}), tool_use("load_skill", {"name": "nope"}))

    standin.register(Script([load, Reply(tool_use("finish", {"summary": "read"}))], key=tag))
    session = await run_to_end(rt, knowledge_repo, f"{tag} open a PR")
    assert session.status == "finished", session.error
    system = str(first[0].body["system"])
    assert "deploy-preview: Deploy a preview build. Use when: After UI changes." in system
    assert "Run `make test` before you finish." in system and "read_file AGENTS.md" in system
    good, bad = [e.event for e in await rt.store.events(session.id) if isinstance(e.event, ToolResult)][:2]
    assert "Title PRs as `area: change`." in good.output and not good.is_error  # the repo's version wins
    assert bad.is_error and "no skill named 'nope'" in bad.output and "deploy-preview" in bad.output
