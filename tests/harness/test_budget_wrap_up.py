"""Never lose work: a run that hits a budget in the middle of a task pushes what it did as a checkpoint and ends with
a report of what is done and what remains, written by the model in one last tool-less call. A person's follow-up
then continues from that report with a valid transcript."""

from pathlib import Path

from conftest import sh
from spine import marker, run_to_end, settings_for, start, wait_status, worker_running

from control_plane.runtime import Runtime
from harness.events import BranchPushed, ModelTurnEvent, RunFinished, RunStarted, UserMessage
from harness.messages import TextBlock, Usage
from harness.testing.anthropic_standin import AnthropicStandIn, RecordedRequest, Reply, Script, tool_use

REPORT = "Done: wrote part1.txt and part2.txt.\nRemains: part3.txt, then run the tests.\nNotes: none."


async def test_budget_ends_the_run_with_a_checkpoint_and_a_report_of_what_remains(
    tmp_path: Path, redis_url: str, standin: AnthropicStandIn, remote: Path, redis: object
) -> None:
    tag, wrap_up, follow_up = marker(), [], []

    def report(req: RecordedRequest) -> Reply:
        wrap_up.append(req)
        return Reply(REPORT)

    def continue_after_report(req: RecordedRequest) -> Reply:
        follow_up.append(req)
        return Reply(
            tool_use("write_file", {"path": "part3.txt", "content": "3\n"}),
            tool_use("finish", {"summary": "all parts"}),
        )

    steps = [
        Reply(tool_use("write_file", {"path": "part1.txt", "content": "1\n"})),
        Reply(tool_use("write_file", {"path": "part2.txt", "content": "2\n"})),
        report,
        continue_after_report,
    ]
    standin.register(Script(steps, key=tag))
    async with Runtime.open(settings_for(tmp_path, redis_url, standin.base_url, max_steps=2)) as rt:
        session = await run_to_end(rt, remote, f"{tag} write three parts")
        events = [e.event for e in await rt.store.events(session.id)]

        assert session.status == "failed"
        # the branch has the work so far, as a checkpoint
        [pushed] = [e for e in events if isinstance(e, BranchPushed)]
        assert pushed.checkpoint
        assert sh("git", "--git-dir", str(remote), "show", f"{session.branch}:part2.txt") == "2\n"
        # the report says why it stopped and what remains, in the session and in the run_finished event
        [finished] = [e for e in events if isinstance(e, RunFinished)]
        assert finished.summary.startswith("step budget exhausted (2 of 2 model calls)")
        assert "Remains: part3.txt" in finished.summary and "Remains: part3.txt" in session.error
        # one last call: the same tools (same cached prefix) but tool_choice none, the results of the last step,
        # and the harness's request for the report at the end
        [req] = wrap_up
        assert req.body["tool_choice"] == {"type": "none"} and req.body["max_tokens"] == rt.settings.wrap_up_max_tokens
        assert [t["name"] for t in req.tools] == [t["name"] for t in standin.requests[0].tools]
        assert req.tool_results()[0].text == "wrote 2 bytes to part2.txt"
        assert "This run must stop now: step budget exhausted" in req.user_text()
        last = [e for e in events if isinstance(e, ModelTurnEvent)][-1]
        assert last.notice is not None and "Remains:" in last.content[0].model_dump()["text"]
        assert session.steps == 3  # the report is counted like any model call

        # a follow-up starts a new run from the transcript that includes the report: accepted by the API's checks
        await rt.store.post_message(session.id, UserMessage(text="go on", author="ana"))
        async with worker_running(rt):
            final = await wait_status(rt, session.id, {"finished"}, timeout_s=60)
    assert final.summary == "all parts"
    [req] = follow_up
    texts = [b.get("text", "") for m in req.messages for b in m["content"] if isinstance(b, dict)]
    assert any("This run must stop now" in t for t in texts) and REPORT in texts
    assert req.user_text() == "[ana]: go on"
    assert standin.problems == []


async def test_a_run_resumed_after_its_report_was_logged_ends_as_it_was_ending(
    rt: Runtime, standin: AnthropicStandIn, remote: Path
) -> None:
    """A worker that died between logging the report and ending the run: the next one ends it the same way,
    without asking the model again (the script is empty: any request would fail the session)."""
    tag = marker()
    standin.register(Script([], key=tag))
    session = await start(rt, remote, f"{tag} big job")
    prompt_id = (await rt.store.events(session.id))[-1].id
    await rt.store.update(session.id, run=1)
    await rt.store.set_status(session.id, "running")
    await rt.store.append(session.id, RunStarted(run=1, worker="dead"))
    report = ModelTurnEvent(
        step=1,
        content=[TextBlock(text=REPORT)],
        stop_reason="end_turn",
        usage=Usage(input_tokens=10),
        model="m",
        cost_usd=0.0,
        delivered_through=prompt_id,
        notice="[nightshift]: This run must stop now: step budget exhausted (1 of 1 model calls).",
    )
    await rt.store.append(session.id, report)
    async with worker_running(rt):
        final = await wait_status(rt, session.id, {"finished", "failed"})
    assert (final.status, final.error) == ("failed", REPORT)
    assert standin.requests == []
