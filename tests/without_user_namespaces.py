"""Run a command on a machine that refuses new user namespaces, as many hubs' machines do.

``python tests/without_user_namespaces.py CMD ...`` loads a seccomp filter that makes
``unshare`` and ``clone`` with CLONE_NEWUSER fail with EPERM (and ``clone3``, whose flags
seccomp cannot read, with ENOSYS, so libc falls back to ``clone``), then runs CMD. The
filter holds for CMD and everything it starts, and changes no host setting.
"""

import errno
import os
import sys

import pyseccomp as seccomp

CLONE_NEWUSER = 0x10000000

rules = seccomp.SyscallFilter(seccomp.ALLOW)
for call in ("unshare", "clone"):
    rules.add_rule(
        seccomp.ERRNO(errno.EPERM),
        call,
        seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER),
    )
rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
rules.load()
os.execvp(sys.argv[1], sys.argv[1:])
