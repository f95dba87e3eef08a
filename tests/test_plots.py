"""Plots become PNG artifacts without `savefig`: real matplotlib, on every runner.

The local runner uses this venv's matplotlib (a test dependency); the Docker runners use the
image `images/offline/build --variant plots` makes (SANDBOX_PLOTS_IMAGE to use another),
which CI builds when it is missing (scripts/lib.sh ensure_plots_image).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import CodeBlock, CodeExecutor
from sandbox.executors.base import BaseExecutor
from sandbox.plots import HOOK_DIR, hook_files, plot_env

PLOTS_IMAGE = os.environ.get("SANDBOX_PLOTS_IMAGE", "sandbox-python:3.11-plots")
# tests/conftest.py's policy (not imported: tests/agents has a conftest module of the same name)
REQUIRE_DOCKER = os.environ.get("SANDBOX_REQUIRE_DOCKER") == "1" or os.environ.get("CI") == "true"
PNG = b"\x89PNG\r\n\x1a\n"

LINE_AND_BAR = """
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [3, 1, 2])
fig, ax = plt.subplots()
ax.bar(["a", "b"], [2, 5])
plt.figure()                         # empty: not saved
closed = plt.figure(); closed.gca().plot([0, 1]); plt.close(closed)   # closed: not saved
plt.show()                           # a no-op under Agg, no warning
print("drawn")
"""


def _need_matplotlib_here() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if REQUIRE_DOCKER:  # CI installs the test extra, which has it: a missing one is a setup bug
            pytest.fail("matplotlib is missing from the venv: pip install -e '.[test]'")
        pytest.skip("matplotlib is not installed in this venv (pip install -e '.[test]')")


def _need_plots_image() -> None:
    from sandbox.executors.docker import _connect

    client = _connect()
    try:
        client.images.get(PLOTS_IMAGE)
    except Exception:
        message = f"image {PLOTS_IMAGE} is missing: build it with images/offline/build --variant plots"
        if REQUIRE_DOCKER:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()


@pytest.fixture
def plots_executor(backend: str, make_executor: Callable[..., CodeExecutor]) -> BaseExecutor:
    if backend == "local":
        _need_matplotlib_here()
        ex = make_executor(timeout=60)
    else:
        _need_plots_image()
        ex = make_executor(image=PLOTS_IMAGE, timeout=60)
    assert isinstance(ex, BaseExecutor)
    return ex


def test_open_figures_are_saved_as_png_artifacts_on_every_runner(plots_executor: BaseExecutor) -> None:
    first = plots_executor.execute([CodeBlock(LINE_AND_BAR, "python")])
    assert first.ok, first.output
    assert first.output == "drawn\n"  # nothing from the hook, no Agg warning
    assert [(f.path, f.mime_type, f.is_image, f.created) for f in first.files] == [
        ("plots/figure_1.png", "image/png", True, True), ("plots/figure_2.png", "image/png", True, True),
    ]
    pngs = plots_executor.get_files("plots/*.png")
    assert all(data.startswith(PNG) and len(data) > 1000 for data in pngs.values())
    assert {f.path: f.size for f in first.files} == {path: len(data) for path, data in pngs.items()}
    # A later run adds figures, never overwriting earlier ones; a failing program keeps its
    # exit code and output, and still gets its figure (to show what went wrong).
    code = "import sys\nimport matplotlib.pyplot as plt\nplt.plot([5, 4])\nprint('bye')\nsys.exit(3)\n"
    second = plots_executor.execute([CodeBlock(code, "python")])
    assert second.exit_code == 3 and second.output == "bye\n"
    assert [f.path for f in second.files] == ["plots/figure_3.png"]
    assert plots_executor.get_files("plots/*.png").keys() == {"plots/figure_1.png", "plots/figure_2.png", "plots/figure_3.png"}


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_saving_can_be_moved_or_turned_off(backend: str, make_executor: Callable[..., CodeExecutor]) -> None:
    _need_matplotlib_here()
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
    off = make_executor(env={"SANDBOX_PLOTS_DIR": ""})
    assert off.execute([CodeBlock(code, "python")]).files == ()
    moved = make_executor(env={"SANDBOX_PLOTS_DIR": "charts/run1"})
    assert [f.path for f in moved.execute([CodeBlock(code, "python")]).files] == ["charts/run1/figure_1.png"]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_figure_that_cannot_be_saved_costs_one_line_on_stderr_not_the_run(
    backend: str, make_executor: Callable[..., CodeExecutor]
) -> None:
    _need_matplotlib_here()
    ex = make_executor()
    (ex.work_dir / "plots").write_text("a file where the directory would go")
    result = ex.execute([CodeBlock("import matplotlib.pyplot as plt\nplt.plot([1])\nprint('ok')\n", "python")])
    assert result.ok and result.stdout == "ok\n"
    assert result.stderr.startswith("sandbox: could not save figure 1 as PNG:") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_the_hook_costs_nothing_without_pyplot_and_runs_the_sitecustomize_it_shadows(
    backend: str, make_executor: Callable[..., CodeExecutor], tmp_path: Path
) -> None:
    theirs = tmp_path / "their_site"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIR_SITE_RAN'] = 'yes'\n")
    ex = make_executor(env={"PYTHONPATH": str(theirs)})
    code = "import os, sys\nprint(os.environ.get('THEIR_SITE_RAN'), 'matplotlib' in sys.modules, sys.modules['sitecustomize'].__file__)\n"
    result = ex.execute([CodeBlock(code, "python")])
    assert result.ok, result.output
    ran, imported, hook = result.stdout.split()
    assert (ran, imported) == ("yes", "False")
    assert Path(hook).parent == HOOK_DIR


def test_the_hook_is_harmless_in_an_image_without_matplotlib(executor: CodeExecutor) -> None:
    code = "import sys\nprint(sys.modules['sitecustomize'].__file__.endswith('sitecustomize.py'), 'matplotlib' in sys.modules)\n"
    result = executor.execute([CodeBlock(code, "python")])
    assert result.ok and result.stdout == "True False\n", result.output


def test_plot_env_puts_the_hook_first_and_keeps_the_callers_choices() -> None:
    env = plot_env({"PATH": "/bin"}, hook_dir="/hook", plots_dir="/ws/plots")
    assert env == {"PATH": "/bin", "PYTHONPATH": "/hook", "MPLBACKEND": "Agg", "SANDBOX_PLOTS_DIR": "/ws/plots"}
    theirs = plot_env({"PYTHONPATH": "/mine", "MPLBACKEND": "svg", "SANDBOX_PLOTS_DIR": ""}, hook_dir="/hook", plots_dir="/p")
    assert theirs == {"PYTHONPATH": "/hook:/mine", "MPLBACKEND": "svg", "SANDBOX_PLOTS_DIR": ""}



def test_hook_files_are_what_a_runner_writes_into_a_sandbox(tmp_path: Path) -> None:
    import subprocess
    import sys

    for name, source in hook_files().items():
        (tmp_path / name).write_text(source)
    env = plot_env({"PATH": os.environ.get("PATH", "")}, hook_dir=str(tmp_path), plots_dir="plots")
    code = "import sys; print(sys.modules['sitecustomize'].__file__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(tmp_path / "sitecustomize.py")
