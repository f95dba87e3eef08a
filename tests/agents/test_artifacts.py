"""Files a run writes are artifacts: the proxy names them to the model, the chat result lists them."""

from __future__ import annotations

from typing import Any

from agents import AssistantAgent, UserProxyAgent, execution_reply
from agents.chat_result import ChatResult, StopReason
from agents.usage import Cost
from openai_server import ScriptedOpenAIServer, fenced
from sandbox import BlockResult, ExecutionResult, FileChange, Outcome

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a0f6a2b20000000049454e44ae426082"
)


def change(path: str, size: int, mime: str, created: bool = True) -> FileChange:
    return FileChange(path=path, size=size, created=created, mime_type=mime)


def test_the_reply_names_written_files_but_not_the_code_files_the_model_named() -> None:
    block = BlockResult(index=0, language="python", filename="make_plot.py", outcome=Outcome.SUCCESS, exit_code=0, output="")
    result = ExecutionResult(
        outcome=Outcome.SUCCESS, exit_code=0, output="done\n", blocks=(block,),
        files=(change("make_plot.py", 80, "text/x-python"), change("plots/figure_1.png", 21_811, "image/png"),
               change("data.csv", 12, "text/csv", created=False)),
    )
    assert execution_reply(result) == (
        "exitcode: 0 (execution succeeded)\nCode output: done\n"
        "Files written: plots/figure_1.png (new, image/png, 21.3 KiB), data.csv (changed, text/csv, 12 bytes)."
    )
    many = ExecutionResult(outcome=Outcome.SUCCESS, exit_code=0, files=tuple(change(f"f{i:02}.txt", 1, "text/plain") for i in range(25)))
    line = execution_reply(many).splitlines()[-1]
    assert line.startswith("Files written: f00.txt (new, text/plain, 1 byte), ") and line.endswith("f19.txt (new, text/plain, 1 byte), and 5 more.")


def test_the_files_line_comes_before_the_notes_a_model_reads_last() -> None:
    result = ExecutionResult(outcome=Outcome.TIMEOUT, exit_code=124, output="tick\n", message="timed out after 5 s",
                             files=(change("partial.csv", 3, "text/csv"),))
    assert execution_reply(result).endswith(
        "Code output: tick\nFiles written: partial.csv (new, text/csv, 3 bytes).\nTimeout: timed out after 5 s."
    )


def test_chat_result_lists_each_file_once_in_its_latest_state() -> None:
    runs = (
        ExecutionResult(outcome=Outcome.SUCCESS, exit_code=0, files=(change("out.csv", 3, "text/csv"), change("plots/figure_1.png", 900, "image/png"))),
        ExecutionResult(outcome=Outcome.SUCCESS, exit_code=0, files=(change("out.csv", 7, "text/csv", created=False),)),
    )
    chat = ChatResult(chat_history=(), summary="", cost=Cost(), stop_reason=StopReason.MAX_TURNS, executions=runs)
    assert chat.files == (change("out.csv", 7, "text/csv", created=True), change("plots/figure_1.png", 900, "image/png"))
    assert [f.path for f in chat.files if f.is_image] == ["plots/figure_1.png"]


def test_a_real_chat_hears_about_its_image_and_returns_it(server: ScriptedOpenAIServer, llm_config: dict[str, Any]) -> None:
    code = f"open('chart.png', 'wb').write({PNG_1x1!r})\nprint('saved')"
    server.reply(fenced(code), "The chart is in chart.png. TERMINATE")
    assistant = AssistantAgent("coder", llm_config=llm_config)
    with UserProxyAgent("user_proxy", human_input_mode="NEVER", code_execution_config={"use_docker": False}) as proxy:
        result = proxy.initiate_chat(assistant, message="Draw a chart.", silent=True)
        executor = proxy.code_executor
        assert executor is not None
        images = [f for f in result.files if f.is_image]
        assert [(f.path, f.mime_type, f.size) for f in images] == [("chart.png", "image/png", len(PNG_1x1))]
        assert executor.read_file(images[0]) == PNG_1x1  # type: ignore[attr-defined]
    sent = server.requests[1]["messages"][-1]["content"]
    assert sent == f"exitcode: 0 (execution succeeded)\nCode output: saved\nFiles written: chart.png (new, image/png, {len(PNG_1x1)} bytes)."
