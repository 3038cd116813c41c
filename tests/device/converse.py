"""Runs a command on a pseudo-terminal the way a person would answer its prompts.

argv[1] is a JSON list of [prompt, answer] pairs: for each in turn, wait until the prompt
appears in what the command printed after the previous answer, then type the answer and
Enter. Everything the command prints (its standard output and error both go to the
terminal) is read until it exits. Prints a JSON object: "transcript", "answered" (how many
prompts were answered), "code" (the command's exit status; 124 when it did not finish in
60 s). SSH markers are removed from the environment (a local session).

Usage: converse.py '[["Password: ", "secret"], ...]' COMMAND [ARG...]
"""
import json
import os
import pty
import select
import signal
import sys
import time


def main():
    script = json.loads(sys.argv[1])
    command = sys.argv[2:]
    for var in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"):
        os.environ.pop(var, None)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    transcript = b""
    since = 0  # where the text after the last answer starts
    answered = 0
    deadline = time.monotonic() + 60
    code = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            code = 124
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            data = b""
        if not data:
            break
        transcript += data
        while answered < len(script):
            prompt = script[answered][0].encode()
            at = transcript.find(prompt, since)
            if at < 0:
                break
            os.write(fd, script[answered][1].encode() + b"\r")
            since = at + len(prompt)
            answered += 1
    if code is None:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
    json.dump(
        {
            "transcript": transcript.decode(errors="replace").replace("\r\n", "\n"),
            "answered": answered,
            "code": code,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
