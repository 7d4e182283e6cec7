"""strongSwan for the peer-configuration tests: a parser of swanctl.conf's documented syntax, and a private charon.

The parser follows strongswan.conf(5) (the syntax swanctl.conf uses) and strongSwan's own lexer where the manual is
silent: sections ``name { ... }``, ``key = value`` ended by a new line, ``#`` comments up to a line feed or carriage
return, values optionally in double quotes (with ``\\n``, ``\\t``, ``\\r`` and ``\\<char>`` escapes). Stricter than
strongSwan where strictness finds bugs: a name holds none of the characters the manual forbids (``. , : { } = " #``,
white space), a key or section appears once per section (strongSwan would merge or override silently, which is what
an injected line would exploit), and ``include`` and section references, which no vpnbot fragment uses, are refused.

:class:`Charon` runs the real daemon where it clashes with nothing: its own ``strongswan.conf`` (``STRONGSWAN_CONF``)
puts the vici socket and the log in the test's directory, and it runs in a network namespace of its own (the IKE
ports, the kernel's XFRM state and the routing rule it adds are private) and a mount namespace whose ``/run`` is
the test's directory (charon 5.9 writes ``/var/run/charon.pid`` and refuses to start when one exists). It is
stopped by its process id, and dies with the process that started it. Loading needs no kernel IPsec support
beyond what netlink offers in the namespace.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import pytest

CHARON = Path("/usr/lib/ipsec/charon")
SWANCTL = Path(shutil.which("swanctl") or "/usr/sbin/swanctl")  # /usr/sbin may be off a non-login PATH
INSTALL = "apt-get install -y strongswan-swanctl strongswan-charon"
_NAME = re.compile(r'[^.,:{}="#\s]+')
_VALUE_END = frozenset("\n#}")


class SettingsSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass
class Section:
    """One section: its key/value pairs and its subsections, in the file's order."""

    values: dict[str, str] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)

    def __getitem__(self, path: str) -> Section:
        """The subsection at the dotted ``path`` (``connections.x.children``)."""
        section = self
        for name in path.split("."):
            section = section.sections[name]
        return section

    def walk(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """Every (dotted key, value) below this section."""
        for key, value in self.values.items():
            yield prefix + key, value
        for name, section in self.sections.items():
            yield from section.walk(f"{prefix}{name}.")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.at) + 1

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def fail(self, message: str) -> SettingsSyntaxError:
        return SettingsSyntaxError(self.line, message)

    def skip_blank(self) -> None:
        """White space, new lines and comments (a comment ends at a line feed or, as strongSwan's lexer has it, a
        carriage return)."""
        while self.at < len(self.text):
            char = self.text[self.at]
            if char in " \t\r\n":
                self.at += 1
            elif char == "#":
                while self.at < len(self.text) and self.text[self.at] not in "\r\n":
                    self.at += 1
            else:
                return

    def skip_spaces(self) -> None:
        while self.peek() in (" ", "\t", "\r") and self.peek():
            self.at += 1

    def name(self) -> str:
        start = self.at
        while self.at < len(self.text) and self.text[self.at] not in '#{}="\r\n\t ':
            self.at += 1
        word = self.text[start : self.at]
        if not word:
            raise self.fail(f"expected a name, found {self.peek()!r}")
        if not _NAME.fullmatch(word):
            raise self.fail(f"name {word!r} holds a character strongswan.conf(5) forbids in names")
        return word

    def value(self) -> str:
        self.skip_spaces()
        if self.peek() == '"':
            self.at += 1
            text = self._quoted()
            self.skip_spaces()
        else:
            start = self.at
            while self.at < len(self.text) and self.text[self.at] not in _VALUE_END and self.text[self.at] != '"':
                self.at += 1
            text = self.text[start : self.at].replace("\r", "").strip(" \t")
            if self.peek() == '"':
                raise self.fail("a quote inside an unquoted value")
        if self.peek() == "#":
            while self.peek() not in ("\n", ""):
                self.at += 1
        if self.peek() != "\n":
            raise self.fail("a value must be terminated by a newline")
        self.at += 1
        return text

    def _quoted(self) -> str:
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise self.fail("unterminated string")
            self.at += 1
            if char == '"':
                return "".join(out)
            if char == "\r":
                continue
            if char == "\\":
                escaped = self.peek()
                if not escaped:
                    raise self.fail("unterminated string")
                self.at += 1
                if escaped == "\n":
                    continue
                out.append({"n": "\n", "r": "\r", "t": "\t"}.get(escaped, escaped))
            else:
                out.append(char)


def parse_settings(text: str) -> Section:
    """``text`` in swanctl.conf's syntax as a tree of sections; raises SettingsSyntaxError naming the line."""
    scanner = _Scanner(text)
    root = Section()
    stack = [root]
    while True:
        scanner.skip_blank()
        char = scanner.peek()
        if not char:
            if len(stack) > 1:
                raise scanner.fail("a section is not closed")
            return root
        if char == "}":
            if len(stack) == 1:
                raise scanner.fail("'}' closes no section")
            stack.pop()
            scanner.at += 1
            continue
        start_line = scanner.line
        word = scanner.name()
        scanner.skip_spaces()
        following = scanner.peek()
        if word == "include" and following not in ("=", "{"):
            raise scanner.fail("include is not used by vpnbot's fragments")
        current = stack[-1]
        if word in current.values or word in current.sections:
            raise SettingsSyntaxError(start_line, f"{word!r} appears twice in one section")
        if following == "{":
            scanner.at += 1
            child = Section()
            current.sections[word] = child
            stack.append(child)
        elif following == "=":
            scanner.at += 1
            current.values[word] = scanner.value()
        else:
            raise scanner.fail(f"expected '{{' or '=' after {word!r} (section references are not used)")


# --- the daemon ---------------------------------------------------------------------------------------------


def missing() -> str | None:
    """Why strongSwan cannot run here, or None."""
    lacking = [tool for tool in ("setpriv", "unshare", "mount") if shutil.which(tool) is None]
    lacking += [str(path) for path in (SWANCTL, CHARON) if not path.is_file()]
    if lacking:
        return f"strongSwan is not installed ({', '.join(lacking)} missing); install it with: {INSTALL}"
    if os.geteuid() != 0:
        return "charon needs root here (it runs in network and mount namespaces of its own)"
    return None


def require(reason: str | None, environ: Mapping[str, str]) -> None:
    """Fail when strongSwan is missing on CI (which installs it, see .ci/run), skip elsewhere, saying how to
    install it; nothing when it is there."""
    if reason is None:
        return
    if environ.get("CI"):
        pytest.fail(f"CI must have strongSwan: {reason}", pytrace=False)
    pytest.skip(reason)


_CONF = """\
charon {{
    port = 0
    port_nat_t = 0
    install_routes = no
    install_virtual_ip = no
    load_modular = no
    load = random nonce openssl aes sha1 sha2 md5 hmac gmp gcm pem pkcs1 pubkey x509 socket-default kernel-netlink vici
    plugins {{
        vici {{
            socket = unix://{socket}
        }}
    }}
    filelog {{
        peer-tests {{
            path = {log}
            default = 1
            cfg = 2
            flush_line = yes
        }}
    }}
}}
swanctl {{
    socket = unix://{socket}
    load = random openssl pem pkcs1 x509
}}
"""
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes


class Charon:
    """One charon in ``directory``: :meth:`start`, then swanctl against it, then :meth:`stop` (by process id)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "charon.vici"
        self.log = directory / "charon.log"
        self.output = directory / "charon.out"
        self.conf = directory / "strongswan.conf"
        self.run_dir = directory / "run"
        if len(str(self.socket)) > _SOCKET_PATH_MAX:
            raise ValueError(f"{self.socket} is too long for a unix socket path")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def environ(self) -> dict[str, str]:
        return {**os.environ, "STRONGSWAN_CONF": str(self.conf)}

    def start(self, timeout: float = 20.0) -> None:
        """Start charon and wait until it answers on its socket; on failure it is stopped and the error holds its
        output."""
        self.run_dir.mkdir(exist_ok=True)
        self.conf.write_text(_CONF.format(socket=self.socket, log=self.log))
        script = 'mount --bind "$1" "$(readlink -f /var/run)" && exec "$2"'
        # One process throughout (setpriv, unshare and sh each exec the next): its pid is charon's, and the kernel
        # sends it SIGTERM when the process that started it dies, even by SIGKILL, so none outlives a test run.
        command = ["setpriv", "--pdeathsig", "TERM", "--", "unshare", "--mount", "--net", "--propagation", "private"]
        command.append("--")
        command += ["sh", "-c", script, "sh", str(self.run_dir), str(CHARON)]
        with self.output.open("wb") as output:
            self.process = subprocess.Popen(
                command, env=self.environ, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"charon exited with {self.process.returncode}: {self._tail()}")
                if self.socket.exists() and self.swanctl("--stats").returncode == 0:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"charon did not answer on {self.socket} within {timeout} s: {self._tail()}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def _tail(self) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        if self.log.exists():
            text += self.log.read_text(errors="replace")
        return text[-2000:] or "(no output)"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to charon's process id, SIGKILL if it lingers; waits for it to be gone."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def swanctl(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SWANCTL), *arguments],
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def wait_for_log(self, offset: int, needle: str, timeout: float = 5.0) -> str:
        """The log written since ``offset``, once it holds ``needle`` (charon logs a load before it answers, but
        the line may reach the file a moment later); raises TimeoutError when it never does."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_since(offset)
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise TimeoutError(f"charon's log never said {needle!r}: {text[-2000:]}")
            time.sleep(0.02)


# --- what charon says it loaded -----------------------------------------------------------------------------

Pretty: TypeAlias = "dict[str, Pretty] | list[str] | str"


def parse_pretty(text: str) -> dict[str, Pretty]:
    """``swanctl --list-conns --pretty``: ``list-conn event { name { key = value ... } }`` blocks, merged by the
    connection's name (lists as ``key = [`` item lines ``]``)."""
    root: dict[str, Pretty] = {}
    stack: list[dict[str, Pretty]] = [root]
    items: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if items is not None:
            if line == "]":
                items = None
            else:
                items.append(line)
        elif line.endswith(" = ["):
            items = []
            stack[-1][line[: -len(" = [")]] = items
        elif line.endswith(" {"):
            name = line[: -len(" {")]
            section: dict[str, Pretty] = {}
            if name == "list-conn event":
                stack.append(root)
                continue
            stack[-1][name] = section
            stack.append(section)
        elif line == "}":
            stack.pop()
        elif " = " in line:
            key, _, value = line.partition(" = ")
            stack[-1][key] = value
        else:
            raise ValueError(f"unexpected line in swanctl's listing: {line!r}")
    root.pop("list-conns reply", None)
    return root


_LOG_LINE = re.compile(r"^\d+\[CFG\] ( +)(.*)$")


def loaded_proposals(log: str) -> dict[str, dict[str, str]]:
    """From charon's log (``cfg`` at level 2): each loaded connection's ``proposals``, and each child's under
    ``child:<name>``, as charon understood them (``IKE:AES_CBC_256/HMAC_SHA2_256_128/...``)."""
    found: dict[str, dict[str, str]] = {}
    conn: dict[str, str] | None = None
    child = ""
    for line in log.splitlines():
        match = _LOG_LINE.match(line)
        if not match:
            continue
        depth, text = len(match.group(1)), match.group(2)
        if depth == 1 and text.startswith("conn ") and text.endswith(":"):
            conn = found.setdefault(text[len("conn ") : -1], {})
            child = ""
        elif conn is not None and depth == 2 and text.startswith("child ") and text.endswith(":"):
            child = text[len("child ") : -1]
        elif conn is not None and text.startswith("proposals = "):
            proposals = text[len("proposals = ") :]
            if depth == 3 and child:
                conn[f"child:{child}"] = proposals
            elif depth == 2:
                conn["proposals"] = proposals
    return found
