"""run_gpu.sh, the whole GPU pipeline, checked on a CPU: its phases come in order, and no
training launch ever starts while a vLLM server the script started still holds the GPUs.

The second test runs the real script with stand-ins for `vllm` (a small HTTP server that records
when it is up and down), `accelerate` (records each launch and whether a server was alive) and
`longwrite` (records its arguments)."""

import os
import subprocess
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training/recipes/run_gpu.sh"


def run_script(run: Path, *args: str, env: dict | None = None) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPT), str(run), *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout


def test_dry_run_prints_phases_in_order(tmp_path):
    lines = run_script(tmp_path / "run", "--dry-run").splitlines()
    phases = [line.removeprefix("== phase ") for line in lines if line.startswith("== phase")]
    assert phases == [
        "1 agentwrite",
        "2 prepare",
        "3 sft",
        "4 preferences",
        "5 dpo",
        "6 export",
    ]
    up: set[str] = set()
    for line in lines:
        if line.startswith("serve "):
            up.add(line.split(":")[0].split()[1])
        elif line.startswith("stop "):
            up.discard(line.split()[1])
        elif "accelerate launch" in line:
            assert not up, f"training launched while {up} still served: {line}"
        elif "data agentwrite" in line:
            assert up == {"writer"} and "127.0.0.1:8000" in line
        elif "data preferences" in line:  # stage 4 samples from a server of the SFT model
            assert up == {"sft"} and "127.0.0.1:8001" in line
            assert any(f"{tmp_path}/run/sft/final" in x for x in lines if x.startswith("serve sft"))
    assert not up
    # tokenized on every core, with a held-out eval split
    [prepare] = [line for line in lines if "data prepare" in line]
    assert "--workers" in prepare and "--eval-fraction 0.01" in prepare


def test_faithful_run_tokenizes_on_every_core(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "accelerate").write_text('#!/usr/bin/env bash\necho launch "$@"\n')
    (bin_dir / "accelerate").chmod(0o755)
    done = subprocess.run(
        ["bash", str(REPO / "training/recipes/gpu/longwriter8b/run.sh"), str(tmp_path / "run")],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LONGWRITE": "echo lw"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [prepare] = [line for line in done.stdout.splitlines() if "data prepare" in line]
    assert f"--workers {len(os.sched_getaffinity(0))}" in prepare


FAKE_VLLM = """\
#!/usr/bin/env python3
import http.server, os, signal, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
events = os.environ["EVENTS"]
def log(text):
    with open(events, "a") as handle:
        handle.write(text + "\\n")
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
def down(*_):
    log(f"down {os.getpid()}"); sys.exit(0)
signal.signal(signal.SIGTERM, down)
server = http.server.HTTPServer(("127.0.0.1", port), Ok)
log(f"up {os.getpid()} {sys.argv[2]}")
server.serve_forever()
"""
# any recorded server still alive when a launch starts is an overlap
FAKE_ACCELERATE = """\
#!/usr/bin/env bash
for pid in $(awk '$1 == "up" {print $2}' "$EVENTS"); do
  kill -0 "$pid" 2>/dev/null && echo "OVERLAP $pid $*" >>"$EVENTS"
done
echo "launch $*" >>"$EVENTS"
"""
FAKE_LONGWRITE = """\
#!/usr/bin/env bash
echo "longwrite $*" >>"$EVENTS"
"""


def test_no_training_launch_while_a_started_server_is_up(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (
        ("vllm", FAKE_VLLM),
        ("accelerate", FAKE_ACCELERATE),
        ("longwrite", FAKE_LONGWRITE),
    ):
        (bin_dir / name).write_text(textwrap.dedent(text))
        (bin_dir / name).chmod(0o755)
    events = tmp_path / "events.log"
    events.touch()
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "EVENTS": str(events)}
    run_script(tmp_path / "run", env=env)
    log = events.read_text().splitlines()
    print("\n".join(log))
    assert not [line for line in log if line.startswith("OVERLAP")]
    kinds = [
        line.split()[0] + (" " + line.split()[2] if line.startswith("longwrite") else "")
        for line in log
    ]
    assert kinds == [
        "up",
        "longwrite agentwrite",
        "down",
        "longwrite prepare",
        "launch",  # SFT
        "up",
        "longwrite preferences",
        "down",
        "launch",  # DPO
        "longwrite gguf",
    ]
    sft_server = [line for line in log if line.startswith("up")][1]
    assert sft_server.endswith(f"{tmp_path}/run/sft/final")
