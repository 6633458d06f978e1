"""Issue 12 against app.py on 127.0.0.1 (no limits, as a duplicated Space or `python app.py`): refusals with the
project's message, outputs stored once, a vanishing client's job stopped, kills leave nothing, and a short soak.
The pieces come from scripts/soak.py, which runs the long version."""

from __future__ import annotations

import hashlib
import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("flap_soak", REPO / "scripts" / "soak.py")
soak = sys.modules["flap_soak"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(soak)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = soak.Run(tmp_path_factory.mktemp("reliability"), max_s=900)
    run.start_app()
    yield run
    run.app.stop()


@pytest.fixture(scope="module")
def client(run):
    return run.client()


@pytest.mark.parametrize("name", ["photo.png", "photo.txt"])
def test_a_non_image_portrait_gets_the_projects_message(run, client, name):
    path = run.tmp / name
    path.write_text("this is text, not a photo")
    with pytest.raises(Exception) as info:
        client.predict(portrait=handle_file(path), audio=handle_file(soak.HELLO), api_name="/generate")
    assert "could not be read as an image; use a JPEG, PNG or WebP photo" in str(info.value), str(info.value)
    assert run.app.alive()


def test_a_server_path_from_a_raw_api_client_gets_a_message(run):
    message = soak.raw_call(run.app.url, "generate", soak.server_path_call("generate"))
    from flap.webapp.refusals import PATH_REFUSED

    assert message == PATH_REFUSED


def test_each_output_is_stored_once(run, client):
    video, motion, _notes = client.predict(portrait=handle_file(soak.ASTRONAUT), audio=handle_file(soak.HELLO), size=256,
                                           api_name="/generate")
    digest = hashlib.sha256(Path(video).read_bytes()).hexdigest()
    copies = [p for folder in run.folders if folder.exists() for p in folder.rglob("*.mp4")
              if hashlib.sha256(p.read_bytes()).hexdigest() == digest]
    assert len(copies) == 1, copies


def test_a_vanishing_clients_job_stops_and_frees_the_slot(run, client):
    soak.vanishing_client(run, client)
    assert not run.failures, run.failures
    assert "the client disconnected, so the job was stopped" in run.app.log_tail(200_000)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_server_killed_mid_render_leaves_nothing(tmp_path, sig):
    run = soak.Run(tmp_path, max_s=600)
    run.start_app()
    try:
        soak.kill_server(run, sig)  # SIGKILL: the restarted server's start-up sweep removes the partial video
    finally:
        run.app.stop()
    assert not run.failures, run.failures


def test_short_soak(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "soak.py"), "--short", "--no-kills", "--max-minutes", "10"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "== failures: 0" in proc.stdout and "p50" in proc.stdout
