"""
hello_autogen.py
A minimal but complete AutoGen two-agent workflow.
Task: write a binary search function with tests.
The assistant writes the code; the user_proxy executes it.
"""
import os
import agents as autogen  # was: import autogen
load_dotenv = lambda: None  # was: from dotenv import load_dotenv (the test sets the environment)
load_dotenv()
# ------------------------------------------------------------------------------
# 1. LLM Configuration
# ------------------------------------------------------------------------------
llm_config = {
"config_list": [
{
"model": "gpt-4o-mini",
"api_key": os.environ["OPENAI_API_KEY"],
}
],
"temperature": 0, # deterministic - important for code generation
"cache_seed": 42, # cache responses during development (saves API cost)
}
# ------------------------------------------------------------------------------
# 2. AssistantAgent - the LLM-backed code writer
# ------------------------------------------------------------------------------
assistant = autogen.AssistantAgent(
name="python_engineer",
llm_config=llm_config,
system_message="""You are an expert Python engineer.
When given a task:
1. Write a clean, type-annotated Python implementation
2. Write at least 5 test cases using assert statements (no pytest needed)
3. Print "All tests passed." if all assertions succeed
4. Only say TERMINATE after you confirm the code executed successfully
Code style rules:
- Use descriptive variable names
- Include a docstring for every function
- Handle edge cases explicitly
""",
)
# ------------------------------------------------------------------------------
# 3. UserProxyAgent - the executor and human proxy
# ------------------------------------------------------------------------------
user_proxy = autogen.UserProxyAgent(
name="user_proxy",
human_input_mode="NEVER", # fully automated
max_consecutive_auto_reply=8, # safety limit
is_termination_msg=lambda msg: (
isinstance(msg.get("content"), str)
and "TERMINATE" in msg["content"]
),
code_execution_config={
"work_dir": "autogen_workspace", # code files saved here
"use_docker": False, # True = safer Docker sandbox
"timeout": 30, # kill process after 30 seconds
"last_n_messages": 3, # scan last 3 messages for code
},
)
# ------------------------------------------------------------------------------
# 4. Start the conversation
# ------------------------------------------------------------------------------
print("=" * 60)
print("Starting AutoGen conversation...")
print("=" * 60)
user_proxy.initiate_chat(
assistant,
message="""Write a Python function called `binary_search` that:
- Takes a sorted list of integers and a target integer
- Returns the index of the target if found, or -1 if not found
- Uses iterative binary search (not recursive)
- Handles edge cases: empty list, single element, target not present
Then write at least 6 test cases covering all edge cases.
Print "All tests passed." at the end if all assertions succeed.
""",
)
# ------------------------------------------------------------------------------
# 5. Post-conversation analysis
# ------------------------------------------------------------------------------
print("\n" + "=" * 60)
print("Conversation complete. Analysing results...")
print("=" * 60)
history = user_proxy.chat_messages[assistant]
print(f"\nTotal messages exchanged: {len(history)}")
# Count code executions by looking for execution result messages
execution_results = [
msg for msg in history
if msg.get("role") == "user"
and isinstance(msg.get("content"), str)
and "exitcode:" in msg["content"]
]
print(f"Code executions: {len(execution_results)}")
# Check if all executions succeeded
all_passed = all(
"exitcode: 0" in msg["content"]
for msg in execution_results
)
print(f"All executions succeeded: {all_passed}")
print("\n--- Full Conversation Transcript ---\n")
for i, msg in enumerate(history):
    name = msg.get("name", msg.get("role", "unknown"))
    content = msg.get("content", "")
    if isinstance(content, list):
        content = str(content)
    print(f"[{i}] {name}:")
    print(content[:500] + ("..." if len(content) > 500 else ""))
    print()
