"""Call a student's ``sgd_step`` through the grader's sandbox, as the grader would.

The sandbox tests use :func:`run_calls` in their own process (a grader running as
root) and run this file as a script as an ordinary Unix user, the way a hub runs the
grader: it reads ``{"source": ..., "calls": [[w, grad, lr], ...]}`` as JSON on stdin
and writes what :func:`run_calls` returns as JSON on stdout.
"""

import json
import sys
from pathlib import Path

import numpy as np

from losslandscape.grading.sandbox import Budget, RuleProxy


def run_calls(source: str, calls: list, rule_seconds: float = 20.0) -> dict:
    """Each call's outcome, in order, from one rule's sandbox, and who its processes are.

    ``outcomes`` holds each call's value as a list, or the error it raised
    (``{"error": <type name>, "message": ...}``); ``host_uids``, the real uids the host
    sees for the sandbox's processes (bubblewrap's own aside) after the
    last call.
    """
    rule = RuleProxy("sgd_step", source, (Budget(rule_seconds), Budget(90.0)))
    outcomes = []
    try:
        for w, grad, lr in calls:
            try:
                value = rule(np.asarray(w, dtype=float), np.asarray(grad, dtype=float), lr)
                outcomes.append({"value": np.asarray(value).tolist()})
            except Exception as exc:
                outcomes.append({"error": type(exc).__name__, "message": str(exc)})
        sandbox = rule._sandbox
        uids = _host_uids(sandbox._process.pid) if sandbox and sandbox.alive else []
    finally:
        rule.close()
    return {"outcomes": outcomes, "host_uids": uids}


def _host_uids(pid: int) -> list[int]:
    """The real uids of the descendants of process ``pid``, as the host's /proc shows them."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # the command's name, in parentheses, may hold spaces: the fields follow the last ")"
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    descendants, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        descendants |= frontier
    uids = set()
    for process in descendants:
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        if status.startswith("Name:\tbwrap\n"):  # runs as root while it builds the sandbox
            continue
        uids.add(int(status.split("\nUid:")[1].split()[0]))
    return sorted(uids)


if __name__ == "__main__":
    json.dump(run_calls(**json.load(sys.stdin)), sys.stdout)
