"""The installed ``vpnbot`` command as a user runs it: real processes, the in-process and standalone simulator."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

VPNBOT = [sys.executable, "-m", "bot.cli"]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VPNBOT_", "TENCENTCLOUD_", "SLACK_"))}
    env.update(extra)
    return env


def test_the_readme_example_runs_on_the_embedded_simulator(tmp_path: Path) -> None:
    command = [
        *VPNBOT,
        "edit",
        "vpnx-ol6bcqp0",
        "--sim",
        "--set",
        "userGwCidrBlock=10.100.2.0/24",
        "--set",
        "preSharedKey=tencenttest",
        "--yes",
    ]
    env = clean_env(tmp_path, VPNBOT_SIM_TASK_SECONDS="0.3", VPNBOT_TASK_POLL_INITIAL="0.1s")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "userGwCidrBlock" in done.stdout
    assert "verified" in done.stdout
    assert "tencenttest" not in done.stdout + done.stderr
    assert "visible in ps and shell history" in done.stderr  # the key was written out: it works, with a warning


def test_missing_credentials_is_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*VPNBOT, "show", "vpnx-ol6bcqp0"], capture_output=True, text=True, env=clean_env(tmp_path), cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "TENCENTCLOUD_SECRET_ID" in done.stderr


def test_a_malformed_setting_names_the_variable(tmp_path: Path) -> None:
    env = clean_env(tmp_path, VPNBOT_SIGNATURE_METHOD="HmacMD5")
    done = subprocess.run([*VPNBOT, "show", "x", "--sim"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "VPNBOT_SIGNATURE_METHOD" in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_vpnbot_sim_serves_until_stopped(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*VPNBOT, "sim", "--port", "0", "--task-seconds", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(tmp_path),
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        lines = [first] + [process.stdout.readline() for _ in range(3)]
        url = re.search(r"http://127\.0\.0\.1:\d+/v2/index\.php", first)
        assert url, lines
        exports = dict(re.findall(r"export (\w+)=(\S+)", "".join(lines)))
        env = clean_env(tmp_path, **exports, VPNBOT_TASK_POLL_INITIAL="0.1s")
        done = subprocess.run(
            [*VPNBOT, "edit", "vpnx-ol6bcqp0", "--set", "IKESet.dhGroupName=group5", "--yes"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        shown = subprocess.run(
            [*VPNBOT, "show", "vpnx-ol6bcqp0"], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert re.search(r"IKESet\.dhGroupName\s+group5", shown.stdout)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_sim_refuses_a_missing_world_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [*VPNBOT, "sim", "--port", "0", "--world", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        timeout=30,
    )
    assert done.returncode == 2
    assert "nope.json" in done.stderr
