"""The directory the runners put first on PYTHONPATH so that `sitecustomize` here runs; see `sandbox.plots`."""
