"""One helper process for the whole session, asked one JSON line at a time (the Mermaid validator, the browser).

Starting Node with jsdom + mermaid, or Puppeteer with Chromium, costs 2-3 s of CPU; an answer costs milliseconds.
The process is started at the first question and ended when the tests end (end of input), and waited for, so
its CPU is counted with the suite's.
"""
from __future__ import annotations

import atexit
import json
import select
import subprocess
from pathlib import Path


class Served:
    def __init__(self, *command: str, cwd: Path | None = None):
        self.command, self.cwd = list(command), cwd
        self.process: subprocess.Popen | None = None

    def ask(self, question, timeout: float):
        """The process's JSON answer to `question`; a fresh process after one that died or timed out."""
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(self.command, cwd=self.cwd, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True)
            atexit.register(self.stop)
        self.process.stdin.write(json.dumps(question) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline() if select.select([self.process.stdout], [], [], timeout)[0] else None
        if not answer:
            code = self.stop()
            if answer is None:
                raise subprocess.TimeoutExpired(self.command, timeout)
            raise RuntimeError(f"{' '.join(self.command)} exited with code {code}")
        return json.loads(answer)

    def stop(self) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        return process.returncode
