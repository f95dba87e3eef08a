"""The words the agents say on their own: system messages, human-input prompts, summaries.

The human-input prompts and the summary prompt are AutoGen 0.2's, word for word, so that
people (and scripts driving `input_func`) see what the tutorials show.
"""

from __future__ import annotations

__all__ = [
    "ALWAYS_PROMPT",
    "ASSISTANT_SYSTEM_MESSAGE",
    "AUTO_REPLY_NOTICE",
    "NO_HUMAN_INPUT_NOTICE",
    "SUMMARY_PROMPT",
    "TERMINATE_AUTO_PROMPT",
    "TERMINATE_PROMPT",
    "USER_PROXY_SYSTEM_MESSAGE",
]

ASSISTANT_SYSTEM_MESSAGE = """You are a helpful AI assistant who solves tasks by writing and running code.
Another agent runs every code block you send and replies with its exit code and output.

How to work:
1. Put each program in one fenced code block tagged with its language (```python or ```sh).
   Write complete programs: the runner does not keep variables between blocks, and it cannot
   fill in placeholders or edit your code. To keep a file, put `# filename: <name>` on the
   first line of the block.
2. Print what you need to see: the runner only sends back what the program writes.
3. Read the reply. If the exit code is not 0, or the output shows a wrong result, find the
   cause, fix it and send the whole corrected program again. If a run timed out, was killed
   for memory or had its output cut, change the approach instead of rerunning it.
4. Check your answer with the output you received before you claim it works.
5. When the task is done and verified, give the answer in plain words and end your message
   with TERMINATE (do not send code in that message)."""

USER_PROXY_SYSTEM_MESSAGE = ""

# AutoGen 0.2's prompts (check_termination_and_human_reply); `{sender}` is the other agent.
ALWAYS_PROMPT = (
    "Provide feedback to {sender}. Press enter to skip and use auto-reply, "
    "or type 'exit' to end the conversation: "
)
TERMINATE_PROMPT = "Please give feedback to {sender}. Press enter or type 'exit' to stop the conversation: "
TERMINATE_AUTO_PROMPT = (
    "Please give feedback to {sender}. Press enter to skip and use auto-reply, "
    "or type 'exit' to stop the conversation: "
)
NO_HUMAN_INPUT_NOTICE = ">>>>>>>> NO HUMAN INPUT RECEIVED."
AUTO_REPLY_NOTICE = ">>>>>>>> USING AUTO REPLY..."

SUMMARY_PROMPT = "Summarize the takeaway from the conversation. Do not add any introductory phrases."
