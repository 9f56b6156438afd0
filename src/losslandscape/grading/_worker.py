"""The half of the grader that runs student code, inside the sandbox.

This file is executed with ``python -I -c`` inside bubblewrap, so it must not
import anything from the course (the course folder is not there). The grader
imports it too, for :func:`encode` and :func:`decode`: both sides speak the
same wire format, which carries numbers and nothing else.

Protocol, over the sandbox's stdin and stdout: every message is a 4-byte
big-endian length and that many bytes of JSON. The worker first answers
``{"defined": bool, "error": str | None}`` after running the student's cell,
then answers each call ``{"args": [...]}`` with ``{"result": ...}`` or
``{"error": str}``, and ``"changed"``, the arguments the rule mutated in place.
"""

import base64
import json
import os
import struct
import sys

import numpy as np

MAX_MESSAGE = 1 << 20
"""Bytes per message; far beyond what a rule on a few weights returns."""
MAX_DEPTH = 3
MAX_ITEMS = 16
NUMERIC_KINDS = "biuf"


def encode(value, depth=0):
    """A JSON-ready description of ``value`` if it is made of numbers, else of its type."""
    if depth > MAX_DEPTH:
        return {"other": "deeply nested container"}
    if isinstance(value, np.ndarray | np.generic) and value.dtype.kind in NUMERIC_KINDS:
        array = np.array(value, order="C")
        return {
            "array": base64.b64encode(array.tobytes()).decode(),
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "scalar": isinstance(value, np.generic),
        }
    if isinstance(value, bool | int | float) and type(value) in (bool, int, float):
        return {"number": value}
    if value is None:
        return {"none": True}
    if type(value) in (list, tuple):
        if len(value) > MAX_ITEMS:
            return {"other": f"{type(value).__name__} of {len(value)} items"}
        return {type(value).__name__: [encode(item, depth + 1) for item in value]}
    return {"other": type(value).__name__}


class Unsupported(TypeError):
    """The rule returned something that is not made of numbers."""


def decode(data, depth=0):
    """The value :func:`encode` described; raises :class:`Unsupported` for other objects."""
    if not isinstance(data, dict) or len(data) == 0 or depth > MAX_DEPTH + 1:
        raise ValueError("malformed message")
    if "array" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in NUMERIC_KINDS:
            raise ValueError("malformed message")
        array = np.frombuffer(base64.b64decode(data["array"]), dtype=dtype)
        array = array.reshape([int(n) for n in data["shape"]]).copy()
        return array[()] if data.get("scalar") else array
    if "number" in data:
        if type(data["number"]) not in (bool, int, float):
            raise ValueError("malformed message")
        return data["number"]
    if "none" in data:
        return None
    if "list" in data or "tuple" in data:
        kind = "list" if "list" in data else "tuple"
        items = data[kind]
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise ValueError("malformed message")
        decoded = [decode(item, depth + 1) for item in items]
        return decoded if kind == "list" else tuple(decoded)
    if "other" in data:
        raise Unsupported(f"an object of type {str(data['other'])[:80]}")
    raise ValueError("malformed message")


def read_message(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    if size > MAX_MESSAGE:
        raise ValueError("message too large")
    return json.loads(stream.read(size))


def write_message(stream, message):
    data = json.dumps(message).encode()
    if len(data) > MAX_MESSAGE:
        data = json.dumps({"error": "the rule returned more data than the grader accepts"}).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def main(name):
    # Keep private copies of the pipes to the grader; whatever the student
    # prints goes to /dev/null instead of into the protocol.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    source = requests.read(int(sys.argv[2]))
    namespace = {"__name__": "__main__", "np": np, "numpy": np}
    error = None
    try:
        exec(compile(source, "<answer cell>", "exec"), namespace)
    except BaseException as exc:  # SystemExit too: a cell that exits still defines what it did
        error = describe(exc)
    rule = namespace.get(name)
    write_message(replies, {"defined": callable(rule), "error": error})
    while (request := read_message(requests)) is not None:
        args = [decode(arg) for arg in request["args"]]
        before = [np.copy(arg) for arg in args]
        try:
            reply = {"result": encode(rule(*args))}
        except BaseException as exc:
            reply = {"error": describe(exc)}
        reply["changed"] = {
            str(i): encode(arg)
            for i, (arg, old) in enumerate(zip(args, before, strict=True))
            if isinstance(arg, np.ndarray) and not np.array_equal(arg, old, equal_nan=True)
        }
        write_message(replies, reply)


if __name__ == "__main__":
    main(sys.argv[1])
