"""The README's API flow, run verbatim (issue 12, defect 10): the ``sh`` block of the
"## API" section goes to bash as it is written, against a real ``countyroute serve`` on a
free loopback port and a fresh database; it must end with the courier's route."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]


def readme_flow() -> str:
    """The first ``sh`` block after the README's "## API" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## API") :]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "the README's API section has a sh block"
    return found.group(1)


def test_the_readme_api_flow_runs_as_written(tmp_path: Path) -> None:
    flow = readme_flow()
    assert "sleep" not in flow and "plans/1/" not in flow  # waits on readiness, names no id
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {
        **os.environ,
        "COUNTYROUTE_PORT": str(free_port()),
        "COUNTYROUTE_DATABASE_URL": f"sqlite:///{tmp_path / 'countyroute.db'}",
    }
    env.pop("COUNTYROUTE_KEY_PEPPER", None)
    # files, not pipes: the server the flow starts in the background keeps its output open
    with (tmp_path / "out.txt").open("wb") as out, (tmp_path / "err.txt").open("wb") as err:
        proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", flow],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own group: the background server is stopped with it
        )
        try:
            proc.wait(timeout=600)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    text = (tmp_path / "out.txt").read_bytes().decode()  # keep the \r\n of the headers
    errors = (tmp_path / "err.txt").read_text()
    assert proc.returncode == 0, (text[-3000:], errors[-3000:])
    head, _, body = text.rpartition("\r\n\r\n")
    assert "HTTP/1.1 200" in head and "etag:" in head.lower(), head[-1000:]
    route = json.loads(body)
    assert route["vehicle"]["id"] == "van-mangling-1"
    assert route["courier"]["id"] == "c-van-mangling-1" and route["crs"] == "gcj02"
    assert route["routes"] and route["routes"][0]["stops"]
