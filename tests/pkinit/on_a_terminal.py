"""Runs a command on a pseudo-terminal the way a person would: waits for the prompt
(argv[1]), types the first line of standard input and Enter, then reads everything the
command prints until it exits. Prints the transcript and a last line `[typed]` or
`[no prompt]`; exits with the command's exit status (124 if it did not finish in 60 s).

Usage: on_a_terminal.py PROMPT COMMAND [ARG...] < answer
"""
import os
import pty
import select
import signal
import sys
import time


def main():
    prompt = sys.argv[1].encode()
    command = sys.argv[2:]
    answer = sys.stdin.readline().rstrip("\n").encode()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    transcript = b""
    typed = False
    deadline = time.monotonic() + 60
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.stdout.write(transcript.decode(errors="replace") + "\n[timeout]\n")
            sys.exit(124)
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            break
        if not data:
            break
        transcript += data
        if not typed and prompt in transcript:
            os.write(fd, answer + b"\r")
            typed = True
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(transcript.decode(errors="replace"))
    sys.stdout.write("\n[typed]\n" if typed else "\n[no prompt]\n")
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
