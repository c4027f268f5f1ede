"""`nightshift review --diff FILE [--repo PATH]`: the same pipeline on a diff file and a checkout on disk."""

from pathlib import Path

from harness.model import Model
from reviewer.config import CONFIG_PATH, PROMPT_PATH, load_review_config
from reviewer.diff import parse_diff
from reviewer.models import Review
from reviewer.pipeline import ReviewTarget, review
from reviewer.tree import DirectoryTree, EmptyTree, SourceTree


async def review_diff(diff_file: Path, repo: Path | None, model: Model | None) -> Review:
    """Without `repo`, the rules see only files the diff adds whole, and the repo's config is not read."""
    text = diff_file.read_text()
    tree: SourceTree = DirectoryTree(repo) if repo is not None else EmptyTree()
    target = ReviewTarget(label=diff_file.name, head_sha="working-tree", diff=parse_diff(text), diff_text=text)
    config = load_review_config(await tree.read(CONFIG_PATH))
    guidance = await tree.read(PROMPT_PATH) or ""
    return await review(target, tree, config, model=model, guidance=guidance)
