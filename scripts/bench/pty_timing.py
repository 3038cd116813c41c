#!/usr/bin/env python3
"""Runs an interactive `latchkey` command on a pseudo-terminal, answers its prompts at once,
and prints when each prompt appeared and when the command ended, as JSON.

usage: pty_timing.py ANSWERS_JSON [MARK] -- COMMAND...

ANSWERS_JSON maps a prompt's text (a substring, matched case-insensitively) to the line
to type, e.g. '{"password": "pw", "pin": "482916"}'. Times are seconds from the start:
`prompts` lists [prompt, seconds] in order, `answered_last` is when the last answer was
typed, `mark` when the text MARK first appeared in the output (if given), `exit` when the
command ended, `code` its exit status. The time the command spends after the last answer is
`exit - answered_last` (or `mark - answered_last` up to the result line): no person is
waited for.
"""
import json
import os
import pty
import select
import sys
import time


def main():
    sep = sys.argv.index("--")
    answers = json.loads(sys.argv[1])
    mark_text = sys.argv[2].encode() if sep > 2 else None
    mark = None
    command = sys.argv[sep + 1:]
    start = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    seen = b""
    prompts = []
    answered_last = None
    output = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        if not ready:
            os.kill(pid, 9)
            sys.exit("no output for 120 s")
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if mark_text is not None and mark is None and mark_text in output:
            mark = time.monotonic() - start
        seen += chunk
        text = seen.decode(errors="replace").lower()
        # A prompt ends with ": " and no newline after it.
        if text.rstrip(" ").endswith(":") and not text.endswith("\n"):
            for key, line in answers.items():
                if key.lower() in text.splitlines()[-1]:
                    prompts.append([text.splitlines()[-1].strip(), time.monotonic() - start])
                    os.write(fd, (line + "\n").encode())
                    answered_last = time.monotonic() - start
                    seen = b""
                    break
    _, status = os.waitpid(pid, 0)
    end = time.monotonic() - start
    print(json.dumps({
        "prompts": prompts,
        "answered_last": answered_last,
        "mark": mark,
        "exit": end,
        "code": os.waitstatus_to_exitcode(status),
        "output": output.decode(errors="replace")[-2000:],
    }))


if __name__ == "__main__":
    main()
