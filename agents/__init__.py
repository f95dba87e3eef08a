"""The two-agent write-execute-fix loop on top of `sandbox.CodeExecutor` (see its issue)."""

__all__: list[str] = []
