"""Drop-in executors for agent frameworks, each an optional extra.

    sandbox.integrations.autogen   AutoGen 0.4+ (`autogen_core.code_executor.CodeExecutor`),
                                   for `CodeExecutorAgent` and 0.4-style teams:
                                   pip install 'sandbox-engine[autogen]'
    sandbox.integrations.ag2       AG2 and AutoGen 0.2 (`autogen.coding.CodeExecutor`), for
                                   `UserProxyAgent(code_execution_config={"executor": ...})`:
                                   pip install 'sandbox-engine[ag2]'

Both default to `DockerExecutor` with the keywords given (`work_dir`, `timeout`, `image`,
`session`, `memory`, `runtime`, ...) or wrap a ready executor (`executor=LocalExecutor()`).
Nothing is imported here, so `import sandbox.integrations` needs neither framework.
"""
