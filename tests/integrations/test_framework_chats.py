"""A two-agent chat through each framework, unchanged but for the executor, on the Docker runner.

The model is the scripted OpenAI-compatible server from tests/agents, reached by each
framework's own OpenAI client. The code the "model" writes reports where it ran: the
container's workspace path (and, for a root caller, the sandbox uid 65532) and a file it
leaves in the workspace, none of which a local run would produce.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from frameworks import require
from openai_server import ScriptedOpenAIServer, fenced

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_required")]

MODEL = "scripted-model"  # a name no framework knows: AutoGen needs model_info for it

WHERE_AM_I = """
import os
print("cwd", os.getcwd(), "uid", os.getuid())
with open("proof.txt", "w") as f:
    f.write("written in the sandbox")
"""


def _assert_ran_in_the_sandbox(output: str, work_dir: Path) -> None:
    assert "cwd /workspace uid" in output, output
    if os.geteuid() == 0:
        assert "uid 65532" in output, output
    assert (work_dir / "proof.txt").read_text() == "written in the sandbox"


def _content_sent_to_model(server: ScriptedOpenAIServer, request: int) -> str:
    return "\n".join(str(m.get("content")) for m in server.requests[request]["messages"])


@pytest.mark.filterwarnings("ignore:No approval function set for CodeExecutorAgent:UserWarning")
def test_autogen_team_runs_the_assistants_code_in_docker(server: ScriptedOpenAIServer, tmp_path: Path, leak_check: Any) -> None:
    require("autogen_agentchat", "autogen")
    from autogen_agentchat.agents import AssistantAgent, CodeExecutorAgent
    from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
    from autogen_agentchat.messages import TextMessage
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    from sandbox.integrations.autogen import SandboxCodeExecutor

    server.reply(fenced(WHERE_AM_I), "The code ran and wrote proof.txt. TERMINATE")
    work_dir = tmp_path / "coding"

    async def chat() -> Any:
        model_client = OpenAIChatCompletionClient(
            model=MODEL, api_key="sk-test", base_url=server.base_url,
            model_info={"vision": False, "function_calling": False, "json_output": False,
                        "family": "unknown", "structured_output": False},
        )
        try:
            async with SandboxCodeExecutor(work_dir=work_dir, timeout=30) as code_executor:
                leak_check(code_executor.executor)
                assistant = AssistantAgent("coder", model_client=model_client,
                                           system_message="Write Python code to solve the problem. Say TERMINATE when done.")
                executor_agent = CodeExecutorAgent("executor", code_executor=code_executor)
                team = RoundRobinGroupChat([assistant, executor_agent],
                                           termination_condition=TextMentionTermination("TERMINATE") | MaxMessageTermination(6))
                return await team.run(task="Show where your code runs.")
        finally:
            await model_client.close()

    result = asyncio.run(chat())
    texts = [(m.source, m.content) for m in result.messages if isinstance(m, TextMessage)]
    assert [source for source, _ in texts] == ["user", "coder", "executor", "coder"]
    executed = texts[2][1]
    _assert_ran_in_the_sandbox(executed, work_dir)
    assert "TERMINATE" in (result.stop_reason or "")
    assert len(server.requests) == 2
    assert "cwd /workspace uid" in _content_sent_to_model(server, 1)  # the model got the result back


def test_ag2_two_agent_chat_runs_the_assistants_code_in_docker(server: ScriptedOpenAIServer, tmp_path: Path, leak_check: Any) -> None:
    require("autogen.agentchat", "ag2")
    from autogen import AssistantAgent, UserProxyAgent

    from sandbox.integrations.ag2 import SandboxCodeExecutor

    server.reply(fenced(WHERE_AM_I), "The code ran and wrote proof.txt. TERMINATE")
    work_dir = tmp_path / "coding"
    llm_config = {"config_list": [{"model": MODEL, "api_key": "sk-test", "base_url": server.base_url}],
                  "temperature": 0, "cache_seed": None}
    assistant = AssistantAgent("assistant", llm_config=llm_config)
    with SandboxCodeExecutor(work_dir=work_dir, timeout=30) as executor:
        leak_check(executor.executor)
        user_proxy = UserProxyAgent(
            "user_proxy", human_input_mode="NEVER", max_consecutive_auto_reply=3,
            is_termination_msg=lambda m: "TERMINATE" in (m.get("content") or ""),
            code_execution_config={"executor": executor},
        )
        result = user_proxy.initiate_chat(assistant, message="Show where your code runs.")

    contents = [m["content"] for m in result.chat_history]
    assert len(contents) == 4 and contents[-1].endswith("TERMINATE")
    reply = contents[2]
    assert reply.startswith("exitcode: 0 (execution succeeded)\nCode output: cwd /workspace uid"), reply
    _assert_ran_in_the_sandbox(reply, work_dir)
    assert len(server.requests) == 2
    assert "exitcode: 0 (execution succeeded)" in _content_sent_to_model(server, 1)  # the model got the result back
