from harness.events import LoggedEvent, ModelTurnEvent, RunStarted, ToolResult, UserMessage
from harness.messages import TextBlock, ToolResultBlock, ToolUseBlock, Usage
from harness.transcript import INTERRUPTED, id_after, missing_results, next_user_content, rebuild


def turn(step: int, *blocks: TextBlock | ToolUseBlock, through: str | None, tokens: int = 10) -> ModelTurnEvent:
    return ModelTurnEvent(
        step=step,
        content=list(blocks),
        stop_reason="tool_use" if any(isinstance(b, ToolUseBlock) for b in blocks) else "end_turn",
        usage=Usage(input_tokens=tokens),
        model="m",
        cost_usd=0.5,
        delivered_through=through,
    )


def use(i: str) -> ToolUseBlock:
    return ToolUseBlock(id=i, name="shell", input={"command": "ls"})


def result(i: str, out: str = "ok") -> ToolResult:
    return ToolResult(tool_use_id=i, name="shell", output=out)


def logged(*events: object) -> list[LoggedEvent]:
    return [LoggedEvent(id=f"{n + 1}-0", event=e) for n, e in enumerate(events)]


def test_rebuild_pairs_tool_results_and_places_messages_after_them() -> None:
    log = logged(
        UserMessage(text="fix it", author="ana"),  # 1-0
        turn(1, use("a"), use("b"), through="1-0"),  # 2-0
        result("a", "A"),  # 3-0
        UserMessage(text="also docs", author="bo"),  # 4-0
        result("b", "B"),  # 5-0
        turn(2, TextBlock(text="done"), through="4-0"),  # 6-0
    )
    t = rebuild(log)
    assert [m.role for m in t.messages] == ["user", "assistant", "user", "assistant"]
    assert t.messages[0].content == [TextBlock(text="[ana]: fix it")]
    assert t.messages[2].content == [
        ToolResultBlock(tool_use_id="a", content="A"),
        ToolResultBlock(tool_use_id="b", content="B"),
        TextBlock(text="[bo]: also docs"),
    ]
    assert t.delivered_through == "4-0"
    assert t.steps == 2
    assert t.open_tool_uses == []


def test_message_not_yet_delivered_stays_pending() -> None:
    log = logged(
        UserMessage(text="go", author="ana"),
        turn(1, use("a"), through="1-0"),
        UserMessage(text="late", author="bo"),  # 3-0, arrived after the request
        result("a"),
    )
    t = rebuild(log)
    assert t.delivered_through == "1-0"
    assert id_after("3-0", t.delivered_through)
    assert t.results["a"].content == "ok"
    assert missing_results(t) == []


def test_interrupted_tool_call_is_repaired_as_an_error() -> None:
    log = logged(UserMessage(text="go", author="ana"), turn(1, use("a"), use("b"), through="1-0"), result("a"))
    t = rebuild(log)
    assert [u.id for u in missing_results(t)] == ["b"]
    content = next_user_content(t, [])
    assert content[0] == ToolResultBlock(tool_use_id="a", content="ok")
    assert content[1] == ToolResultBlock(tool_use_id="b", content=INTERRUPTED, is_error=True)


def test_spent_counts_only_the_current_hand_off() -> None:
    log = logged(
        RunStarted(run=1, worker="w"),
        UserMessage(text="go", author="ana"),
        turn(1, TextBlock(text="x"), through="2-0", tokens=100),
        RunStarted(run=2, worker="w"),
        UserMessage(text="more", author="ana"),
        turn(2, use("a"), through="5-0", tokens=7),
        RunStarted(run=2, worker="w2", resumed=True),
    )
    t = rebuild(log)
    assert (t.spent.steps, t.spent.tokens, t.spent.cost_usd) == (1, 7, 0.5)
    assert t.steps == 2


def test_stream_ids_compare_numerically() -> None:
    assert id_after("10-0", "9-5")
    assert id_after("5-10", "5-9")
    assert not id_after("5-1", "5-1")
    assert id_after("1-0", None)


def test_an_empty_reply_logged_by_an_older_version_is_never_sent_back() -> None:
    """Sessions logged before empty replies were kept out of the transcript: rebuild repairs them, so their next
    request carries no empty message (the API's 400) and its tool results are still first."""
    log = logged(
        UserMessage(text="fix it", author="ana"),  # 1-0
        turn(1, use("a"), through="1-0"),  # 2-0
        result("a", "A"),  # 3-0
        turn(2, through="1-0"),  # 4-0: the empty reply, as it was logged
        UserMessage(text="and now?", author="bo"),  # 5-0
    )
    t = rebuild(log)
    assert [m.role for m in t.messages] == ["user", "assistant"]
    assert t.empty_replies == 1
    pending = [m.event for m in log[4:] if isinstance(m.event, UserMessage)]
    assert next_user_content(t, pending) == [
        ToolResultBlock(tool_use_id="a", content="A"),
        TextBlock(text="[bo]: and now?"),
    ]
