"""The fork server an agent keeps per node under ``myriad run --preload``.

A restarted Python rank spends most of its recovery importing torch again.
With ``--preload torch`` the agent starts this module once per node
(``python -m myriad._zygote torch ...``): it imports the given modules, says
it is ready, and then forks a rank for each request instead of the agent
starting a fresh interpreter. The rank goes on as if Python had just run
its script: the modules are already in ``sys.modules``.

Protocol (the agent's side is launcher/zygote.cc), over a Unix socket that
is this process's stdin:
  - ready:    the zygote sends the byte ``R`` once the imports are done (an
              import that fails ends the process: the agent then starts
              every rank with exec, as without --preload).
  - request:  a 4-byte little-endian length and a JSON object ``{"argv":
              [python, script or -m, module, args...], "env": ["NAME=VALUE",
              ...], "cwd": DIR, "agent": PID}``, with the rank's stdout and
              stderr descriptors attached (SCM_RIGHTS).
  - reply:    a 4-byte length and ``{"pid": N}`` or ``{"error": TEXT}``.

The rank is forked twice (the middle process exits at once), so that it
becomes the agent's child (the agent is a child subreaper): the agent waits
for it, signals its session and reads its exit status as for any rank. The
rank makes its own session, takes the death signal once it is the agent's
child, and gets the request's descriptors, environment, directory and argv.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import socket
import struct
import sys
import time
import traceback

_PR_SET_PDEATHSIG = 1
_REPARENT_WAIT_S = 5.0


def _read_exact(sock: socket.socket, n: int, fds: list[int]) -> bytes:
    data = b""
    while len(data) < n:
        chunk, received, _flags, _addr = socket.recv_fds(sock, n - len(data), 2)
        fds.extend(received)
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _send(sock: socket.socket, message: dict) -> None:
    body = json.dumps(message).encode()
    sock.sendall(struct.pack("<I", len(body)) + body)


def _become_rank(request: dict, fds: list[int], sock: socket.socket) -> None:
    """In the forked rank: its session, descriptors, environment and argv."""
    os.setsid()
    deadline = time.monotonic() + _REPARENT_WAIT_S
    while os.getppid() != request["agent"]:
        if time.monotonic() > deadline:
            os._exit(126)  # the agent is gone (or is not a subreaper): nobody would wait for this rank
        time.sleep(0.0002)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0) != 0 or os.getppid() != request["agent"]:
        os._exit(126)  # dies with the agent, as an exec'd rank does
    sock.detach()  # its descriptor is 0, replaced next
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in (null, *fds):
        os.close(fd)
    os.environ.clear()
    for entry in request["env"]:
        name, _, value = entry.partition("=")
        os.environ[name] = value
    os.chdir(request["cwd"])


def _serve(sock: socket.socket) -> dict | None:
    """Forks a rank per request; returns the request in the rank, None at EOF."""
    while True:
        fds: list[int] = []
        try:
            (length,) = struct.unpack("<I", _read_exact(sock, 4, fds))
            request = json.loads(_read_exact(sock, length, fds))
        except EOFError:
            return None
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            _send(sock, {"error": f"a request needs 2 descriptors (stdout, stderr), got {len(fds)}"})
            continue
        report_r, report_w = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(report_r)
            rank = os.fork()
            if rank == 0:
                os.close(report_w)
                _become_rank(request, fds, sock)
                return request
            os.write(report_w, struct.pack("<i", rank))
            os._exit(0)
        os.close(report_w)
        for fd in fds:
            os.close(fd)
        os.waitpid(middle, 0)  # once it has exited, the rank is the agent's child
        report = os.read(report_r, 4)
        os.close(report_r)
        if len(report) == 4:
            _send(sock, {"pid": struct.unpack("<i", report)[0]})
        else:
            _send(sock, {"error": "fork failed"})


def _run(request: dict) -> None:
    import runpy

    argv = request["argv"][1:]
    # Installed on import of myriad when TORCHELASTIC_ERROR_FILE is set: the
    # zygote imported it without the rank's variable.
    errors = sys.modules.get("myriad._errors")
    if errors is not None:
        errors.install()
    if argv[0] == "-m":
        sys.argv = argv[1:]
        sys.path[0] = os.getcwd()
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = argv
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
        runpy.run_path(argv[0], run_name="__main__")


def main() -> None:
    sock = socket.socket(fileno=0)
    for name in sys.argv[1:]:
        try:
            importlib.import_module(name)
        except BaseException:
            sys.stderr.write(f"myriad preload: importing '{name}' failed; ranks start without --preload\n")
            traceback.print_exc()
            sys.exit(1)
    sock.sendall(b"R")
    request = _serve(sock)
    if request is None:
        return
    del sock
    _run(request)


if __name__ == "__main__":
    main()
