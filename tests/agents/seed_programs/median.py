import agents as autogen  # was: import autogen
import os
llm_config = {
    "config_list": [
        {
            "model": "gpt-4o-mini",
            "api_key": os.environ["OPENAI_API_KEY"],
        }
    ],
    "temperature": 0,
    "cache_seed": 42,
}
# The thinker
assistant = autogen.AssistantAgent(
    name="assistant",
    llm_config=llm_config,
    system_message="""You are a Python expert.
Write clean, tested code.
Always test your code before replying TERMINATE.
Reply TERMINATE only when you are confident the code works.""",
)
# The executor
user_proxy = autogen.UserProxyAgent(
    name="user_proxy",
    human_input_mode="NEVER",
    max_consecutive_auto_reply=8,
    is_termination_msg=lambda msg: (
        isinstance(msg.get("content"), str)
        and "TERMINATE" in msg["content"]
    ),
    code_execution_config={
        "work_dir": "autogen_workspace",
        "use_docker": False,
        "timeout": 30,
    },
)
# Start the conversation
result = user_proxy.initiate_chat(
    assistant,
    message=(
        "Write a Python function that takes a list of numbers and "
        "returns the median. Handle edge cases: empty list, single element, "
        "even-length list. Include at least 5 test cases."
    ),
)
# After completion
print("\n--- Conversation complete ---")
print(f"Total messages: {len(user_proxy.chat_messages[assistant])}")
