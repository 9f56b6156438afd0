"""nbgrader's settings in a student's copy of the assignment.

``nbgrader validate landscape.ipynb``, run in this folder, reads this file: without one
it warns that it found none, and its kernel warns of a TCP connection. Grading reads the
course's own nbgrader_config.py.
"""

c = get_config()  # noqa: F821
c.KernelManager.transport = "ipc"  # Unix sockets: the kernel is local, and says nothing
