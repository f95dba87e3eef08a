"""The two-agent write-execute-fix loop on top of `sandbox.CodeExecutor`.

    from agents import AssistantAgent, UserProxyAgent

    assistant = AssistantAgent("python_engineer", llm_config={"config_list": [{"model": "gpt-4o-mini"}]})
    with UserProxyAgent("user_proxy", human_input_mode="NEVER",
                        code_execution_config={"use_docker": False}) as user_proxy:
        result = user_proxy.initiate_chat(assistant, message="Print the 10th Fibonacci number.")
    print(result.stop_reason, result.summary, result.cost.total)

The API is AutoGen 0.2's, as the tutorials teach it (`initiate_chat`, `chat_messages`,
`llm_config` with `config_list`, `human_input_mode`, `code_execution_config`), plus AutoGen
0.4's termination conditions (`termination=TextMentionTermination("TERMINATE") |
MaxMessageTermination(10)`). Code runs on any `sandbox.CodeExecutor`.
"""

from .assistant import AssistantAgent
from .chat_result import ChatResult, StopReason
from .code_execution import CodeExecutionConfig
from .conversable import ConversableAgent
from .errors import AgentError, LLMConfigError, LLMError
from .execution_reply import DEFAULT_OUTPUT_BUDGET, execution_reply
from .llm import Completion, LLMClient
from .llm_config import LLMConfig, ModelConfig, RetryPolicy
from .termination import (
    AndTermination,
    MaxMessageTermination,
    OrTermination,
    TerminationCondition,
    TextMentionTermination,
    default_is_termination_msg,
)
from .usage import Cost, TokenUsage
from .user_proxy import UserProxyAgent

__all__ = [
    "DEFAULT_OUTPUT_BUDGET",
    "AgentError",
    "AndTermination",
    "AssistantAgent",
    "ChatResult",
    "CodeExecutionConfig",
    "Completion",
    "ConversableAgent",
    "Cost",
    "LLMClient",
    "LLMConfig",
    "LLMConfigError",
    "LLMError",
    "MaxMessageTermination",
    "ModelConfig",
    "OrTermination",
    "RetryPolicy",
    "StopReason",
    "TerminationCondition",
    "TextMentionTermination",
    "TokenUsage",
    "UserProxyAgent",
    "default_is_termination_msg",
    "execution_reply",
]
