"""What one run's agent gets beyond the spine, put together once its sandbox is ready: the model it runs on,
the system prompt (skills, the repository's AGENTS.md/CLAUDE.md, the team's notes), its tools' capabilities
(repo memory, sub-sessions, screenshots), where its artifacts go, and the loop's limits."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from control_plane.children import ChildSessions, SubSessionLimits, depth
from control_plane.git import Mirrors
from control_plane.models import Session
from control_plane.notes import NoteStore, SessionNotes
from control_plane.store import SessionStore
from harness.artifacts import LocalArtifacts
from harness.budget import Budget
from harness.compaction import CompactionConfig
from harness.loop import LoopConfig
from harness.model import Model
from harness.prompt import Capabilities, system_prompt
from harness.sandboxes import Sandbox
from harness.screenshot import Screenshotter
from harness.skills import KnowledgeLimits, SandboxFiles, Skill, repo_knowledge
from harness.toolbox import ToolContext, ToolLimits


class AgentConfig(BaseModel):
    artifacts_dir: Path
    knowledge: KnowledgeLimits = KnowledgeLimits()
    sub_sessions: SubSessionLimits = SubSessionLimits()
    compaction: CompactionConfig = CompactionConfig()
    wrap_up_max_tokens: int = 1500
    max_prompt_bytes: int = 200_000
    repo_models: dict[str, str] = {}


@dataclass
class PreparedRun:
    model: Model
    system: str
    tools: ToolContext
    artifacts: LocalArtifacts
    config: LoopConfig


class AgentSetup:
    """Built once per worker; `prepare` is called for each run."""

    def __init__(
        self,
        *,
        config: AgentConfig,
        store: SessionStore,
        mirrors: Mirrors,
        notes: NoteStore,
        builtin_skills: list[Skill],
        models: Callable[[str], Model],
        screenshots: Screenshotter | None,
    ) -> None:
        self.config, self.store, self.mirrors, self.notes = config, store, mirrors, notes
        self.builtin_skills, self.models, self.screenshots = builtin_skills, models, screenshots

    async def prepare(
        self, session: Session, sandbox: Sandbox, *, default_model: Model, budget: Budget, limits: ToolLimits
    ) -> PreparedRun:
        knowledge = await repo_knowledge(SandboxFiles(sandbox), self.builtin_skills, self.config.knowledge)
        tools = ToolContext(
            sandbox=sandbox,
            limits=limits,
            skills=knowledge.skill_map(),
            memory=SessionNotes(self.notes, session.repo, session.id),
            sub_sessions=await self._children(session, sandbox),
            screenshots=self.screenshots,
        )
        capabilities = Capabilities(
            can_note=True,
            can_spawn=tools.sub_sessions is not None,
            max_children=self.config.sub_sessions.max_children,
            can_screenshot=self.screenshots is not None,
        )
        system = system_prompt(
            repo=session.repo,
            workdir=sandbox.workdir,
            branch=session.branch,
            knowledge=knowledge,
            notes=await self.notes.list(session.repo),
            capabilities=capabilities,
        )
        # The session's own choice, else its repository's, else the worker's default.
        choice = session.model or self.config.repo_models.get(session.repo)
        return PreparedRun(
            model=self.models(choice) if choice else default_model,
            system=system,
            tools=tools,
            artifacts=LocalArtifacts(self.config.artifacts_dir, session.id),
            config=LoopConfig(
                budget=budget, compaction=self.config.compaction, wrap_up_max_tokens=self.config.wrap_up_max_tokens
            ),
        )

    async def _children(self, session: Session, sandbox: Sandbox) -> ChildSessions | None:
        limits = self.config.sub_sessions
        if limits.max_children == 0 or await depth(self.store, session) >= limits.max_depth:
            return None
        return ChildSessions(
            store=self.store,
            mirrors=self.mirrors,
            parent=session,
            sandbox=sandbox,
            limits=limits,
            max_prompt_bytes=self.config.max_prompt_bytes,
        )
