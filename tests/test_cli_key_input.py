"""The key never needs the command line (issue 10 point 9): ``preSharedKey=-`` (no-echo prompt on a terminal, a
line of stdin otherwise), ``PARAM=@FILE``, ``PARAM=@-``, the ``@@`` escape, and the warning for a key written out.

The happy paths run the real ``vpnbot`` in a child process against the simulator (served from a thread of this
process, so the stored key can be checked exactly); the prompt runs on a pseudo-terminal (``pty.fork``: the child's
controlling terminal, so ``getpass`` uses ``/dev/tty``) and the transcript proves the typed key is not echoed.
Every one checks the canary: the key is in none of the child's stdout, stderr or argv (``/proc/PID/cmdline``).
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from simthread import CANARY_SECRET_ID, CANARY_SECRET_KEY, ThreadedSim, canary_world, threaded_sim

from bot.cli import PLAIN_KEY_WARNING, main

VPNBOT = [sys.executable, "-m", "bot.cli"]
SEED_CONN = "vpnx-ol6bcqp0"
KEY = "canary-typed-key-Qx7#w"
SAFE_FORMS = ("--set preSharedKey=-", "--set preSharedKey=@FILE")


@pytest.fixture
def sim() -> Iterator[ThreadedSim]:
    with threaded_sim(canary_world(task_seconds=0.2)) as running:
        yield running


def child_env(sim: ThreadedSim) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VPNBOT_", "TENCENTCLOUD_", "SLACK_"))}
    env.update(
        VPNBOT_CLOUD_ENDPOINT=sim.url,
        TENCENTCLOUD_SECRET_ID=CANARY_SECRET_ID,
        TENCENTCLOUD_SECRET_KEY=CANARY_SECRET_KEY,
        VPNBOT_TASK_POLL_INITIAL="0.05s",
        VPNBOT_TASK_POLL_MAX="0.2s",
        VPNBOT_TASK_DEADLINE="20s",
    )
    return env


def argv_of(pid: int) -> str:
    """The child's command line as ``ps`` shows it ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for_argv(child: subprocess.Popen[str]) -> str:
    """The child's command line once it runs vpnbot (before that, it is the forked test's); "" if it ended."""
    deadline = time.monotonic() + 10
    while child.poll() is None and time.monotonic() < deadline:
        argv = argv_of(child.pid)
        if "bot.cli" in argv:
            return argv
        time.sleep(0.01)
    return ""


def run_child(sim: ThreadedSim, tmp_path: Path, *sets: str, stdin: str = "", yes: bool = True) -> tuple[int, str, str]:
    """``vpnbot edit`` in a child, ``stdin`` written only after its argv was read; (status, stdout, stderr)."""
    command = [*VPNBOT, "edit", SEED_CONN, *(["--yes"] if yes else [])]
    for item in sets:
        command += ["--set", item]
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(sim),
        cwd=tmp_path,
    )
    argv = wait_for_argv(child)
    out, err = child.communicate(stdin, timeout=60)
    assert KEY not in argv
    return child.returncode, out, err


def stored_key(sim: ThreadedSim) -> str:
    return str(sim.connection(SEED_CONN)["preSharedKey"])


# -- stdin and files, over a real process -----------------------------------------------------------------------------


def test_the_key_from_stdin(sim: ThreadedSim, tmp_path: Path) -> None:
    status, out, err = run_child(sim, tmp_path, "preSharedKey=-", stdin=KEY + "\n")
    assert status == 0, err
    assert "verified: every proposed value is live" in out
    assert stored_key(sim) == KEY  # the newline was stripped, nothing else
    assert KEY not in out + err
    assert "visible in ps" not in err


def test_the_key_from_stdin_then_the_confirmation(sim: ThreadedSim, tmp_path: Path) -> None:
    status, _out, err = run_child(sim, tmp_path, "preSharedKey=-", stdin=KEY + "\r\ny\n", yes=False)
    assert status == 0, err
    assert stored_key(sim) == KEY
    assert KEY not in err


def test_the_key_from_a_file(sim: ThreadedSim, tmp_path: Path) -> None:
    key_file = tmp_path / "psk"
    key_file.write_text(KEY + "\nsecond line is ignored\n")
    key_file.chmod(0o600)
    status, out, err = run_child(sim, tmp_path, f"preSharedKey=@{key_file}")
    assert status == 0, err
    assert stored_key(sim) == KEY
    assert KEY not in out + err
    assert "warning" not in err


def test_a_key_file_readable_by_others_is_warned_about(sim: ThreadedSim, tmp_path: Path) -> None:
    key_file = tmp_path / "psk"
    key_file.write_text(KEY)  # no newline at all
    key_file.chmod(0o644)
    status, out, err = run_child(sim, tmp_path, f"preSharedKey=@{key_file}")
    assert status == 0, err
    assert stored_key(sim) == KEY
    warning = [line for line in err.splitlines() if "readable by group or others" in line]
    assert len(warning) == 1
    assert str(key_file) in warning[0]
    assert "0644" in warning[0]
    assert KEY not in out + err


def test_other_parameters_from_files(sim: ThreadedSim, tmp_path: Path) -> None:
    policy = tmp_path / "spd.json"
    policy.write_text(json.dumps({"10.0.0.0/24": ["172.16.5.0/24", "172.16.6.0/24"]}, indent=2) + "\n")
    status, _out, err = run_child(sim, tmp_path, f"spdAcl=@{policy}", "vpnConnName=@@office-at")
    assert status == 0, err
    item = sim.connection(SEED_CONN)
    assert sorted(item["destinationCidr"]) == ["172.16.5.0/24", "172.16.6.0/24"]
    assert item["vpnConnName"] == "@office-at"  # @@ escapes a value that starts with '@'
    cidrs = tmp_path / "cidrs.txt"
    cidrs.write_text("10.100.2.0/24\n10.100.3.0/24\n")
    status, _out, err = run_child(sim, tmp_path, f"userGwCidrBlock=@{cidrs}")
    assert status == 0, err
    assert sorted(sim.connection(SEED_CONN)["destinationCidr"]) == ["10.100.2.0/24", "10.100.3.0/24"]


def test_a_policy_from_stdin(sim: ThreadedSim, tmp_path: Path) -> None:
    status, _out, err = run_child(sim, tmp_path, "spdAcl=@-", stdin='{"10.0.0.0/24": ["172.16.9.0/24"]}\n')
    assert status == 0, err
    assert sim.connection(SEED_CONN)["destinationCidr"] == ["172.16.9.0/24"]


def test_a_key_on_the_command_line_works_with_one_warning(sim: ThreadedSim, tmp_path: Path) -> None:
    done = subprocess.run(
        [*VPNBOT, "edit", SEED_CONN, "--yes", "--set", f"preSharedKey={KEY}"],
        capture_output=True,
        text=True,
        env=child_env(sim),
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert stored_key(sim) == KEY
    warnings = [line for line in done.stderr.splitlines() if "visible in ps and shell history" in line]
    assert len(warnings) == 1
    for form in SAFE_FORMS:
        assert form in warnings[0]
    assert KEY not in done.stdout + done.stderr


# -- the no-echo prompt, on a pseudo-terminal --------------------------------------------------------------------------


class Terminal:
    """A child process on a pseudo-terminal: what it writes to the terminal, and typing into it."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal and its stdin, stdout and stderr
            try:
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.transcript = b""
        self.status: int | None = None

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.transcript:
            assert self._read(deadline - time.monotonic()), f"no {text!r} in {self.transcript!r}"

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self._read(deadline - time.monotonic()):
            pass
        for _ in range(int(timeout * 20)):
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.05)
        os.close(self.fd)
        assert self.status is not None, "the child did not end"
        return self.status

    def kill(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass

    def _read(self, timeout: float) -> bool:
        """Read what is there; False at the end (the child closed the terminal) or after ``timeout``."""
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the child is gone
            return False
        self.transcript += chunk
        return bool(chunk)


@pytest.fixture
def terminal(sim: ThreadedSim, tmp_path: Path) -> Iterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for term in made:
        term.kill()


def start(terminal: list[Terminal], sim: ThreadedSim, tmp_path: Path, *args: str) -> Terminal:
    term = Terminal([*VPNBOT, "edit", SEED_CONN, *args], child_env(sim), tmp_path)
    terminal.append(term)
    return term


def test_the_prompt_does_not_echo_the_key(sim: ThreadedSim, tmp_path: Path, terminal: list[Terminal]) -> None:
    term = start(terminal, sim, tmp_path, "--set", "preSharedKey=-")
    term.expect("preSharedKey (typing is not shown): ")
    assert KEY not in argv_of(term.pid)
    assert "preSharedKey=-" in argv_of(term.pid)
    term.type(KEY + "\n")
    term.expect("again, to confirm: ")
    term.type(KEY + "\n")
    term.expect("[y/N] ")
    term.type("y\n")  # the control: this terminal does echo what is typed when echo is on
    assert term.wait() == 0, term.transcript
    shown = term.transcript.decode(errors="replace")
    assert "[y/N] y\r\n" in shown
    assert "verified: every proposed value is live" in shown
    assert KEY not in shown
    assert stored_key(sim) == KEY


def test_two_different_entries_are_refused(sim: ThreadedSim, tmp_path: Path, terminal: list[Terminal]) -> None:
    before = stored_key(sim)
    term = start(terminal, sim, tmp_path, "--yes", "--set", "preSharedKey=-")
    term.expect("(typing is not shown): ")
    term.type(KEY + "\n")
    term.expect("again, to confirm: ")
    term.type(KEY + "-typo\n")
    assert term.wait() == 2
    shown = term.transcript.decode(errors="replace")
    assert "preSharedKey" in shown
    assert "differ" in shown
    assert "nothing was sent" in shown
    assert KEY not in shown
    assert sim.received("DescribeVpnConn") == 0
    assert sim.received("ModifyVpnConnEx") == 0
    assert stored_key(sim) == before


def test_an_empty_prompt_answer_is_refused(sim: ThreadedSim, tmp_path: Path, terminal: list[Terminal]) -> None:
    term = start(terminal, sim, tmp_path, "--yes", "--set", "preSharedKey=-")
    term.expect("(typing is not shown): ")
    term.type("\n")
    assert term.wait() == 2
    assert b"nothing was typed" in term.transcript
    assert sim.received("ModifyVpnConnEx") == 0


# -- usage errors: exit 2, the parameter named, nothing sent, the key never shown -------------------------------------


@pytest.fixture
def cli_env(sim: ThreadedSim, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ThreadedSim:
    monkeypatch.chdir(tmp_path)
    for name, value in child_env(sim).items():
        if name.startswith(("VPNBOT_", "TENCENTCLOUD_")):
            monkeypatch.setenv(name, value)
    return sim


def _refused(
    sim: ThreadedSim, capsys: pytest.CaptureFixture[str], sets: list[str], named: str, why: str, stdin: str = ""
) -> str:
    sys_stdin = io.StringIO(stdin)
    argv = ["edit", SEED_CONN, "--yes"]
    for item in sets:
        argv += ["--set", item]
    old, sys.stdin = sys.stdin, sys_stdin
    try:
        assert main(argv) == 2
    finally:
        sys.stdin = old
    err = capsys.readouterr().err
    assert named in err
    assert why in err
    assert "nothing was sent" in err
    assert sim.received("DescribeVpnConn") == 0
    assert sim.received("ModifyVpnConnEx") == 0
    return err


def test_a_missing_key_file(cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = _refused(cli_env, capsys, [f"preSharedKey=@{KEY}"], "preSharedKey", "no such file")
    assert KEY not in err  # "@KEY" may have been a key meant to start with '@': the path is not shown
    assert "@@" in err


def test_a_missing_policy_file_is_named(cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(cli_env, capsys, ["spdAcl=@nope.json"], "spdAcl=@nope.json", "no such file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file: an unreadable file cannot be made")
def test_an_unreadable_key_file(cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key_file = tmp_path / "psk"
    key_file.write_text(KEY)
    key_file.chmod(0)
    _refused(cli_env, capsys, [f"preSharedKey=@{key_file}"], "preSharedKey", "permission denied")


def test_a_directory_is_not_a_key_file(
    cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _refused(cli_env, capsys, [f"preSharedKey=@{tmp_path}"], "preSharedKey", "is a directory")


@pytest.mark.parametrize("content", ["", "\n", "\nkey-on-the-second-line\n"], ids=["empty", "newline", "second-line"])
def test_an_empty_key_file(
    cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str
) -> None:
    key_file = tmp_path / "psk"
    key_file.write_text(content)
    key_file.chmod(0o600)
    _refused(cli_env, capsys, [f"preSharedKey=@{key_file}"], "preSharedKey", "first line is empty")


def test_a_key_file_that_is_not_text(cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key_file = tmp_path / "psk"
    key_file.write_bytes(b"\xff\xfe" + KEY.encode())
    key_file.chmod(0o600)
    _refused(cli_env, capsys, [f"preSharedKey=@{key_file}"], "preSharedKey", "not UTF-8")


@pytest.mark.parametrize("stdin", ["", "\n"], ids=["nothing", "empty-line"])
def test_an_empty_key_on_stdin(cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str], stdin: str) -> None:
    _refused(cli_env, capsys, ["preSharedKey=-"], "preSharedKey", "empty", stdin=stdin)


def test_stdin_wanted_twice(cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(
        cli_env, capsys, ["preSharedKey=-", "spdAcl=@-"], "spdAcl", "stdin already gives preSharedKey", stdin=KEY
    )
    assert KEY not in err


def test_an_empty_key_on_the_command_line(cli_env: ThreadedSim, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(cli_env, capsys, ["preSharedKey="], "preSharedKey", "empty")
    assert PLAIN_KEY_WARNING not in err  # no key was written out


def test_help_documents_the_forms(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["edit", "--help"])
    text = capsys.readouterr().out
    for form in ("preSharedKey=-", "PARAM=@FILE", "PARAM=@-", "PARAM=@@TEXT", "visible in ps and shell history"):
        assert form in text
