"""nbgrader's configuration for the course; every nbgrader command reads it from here.

Autograding never runs a submission in a kernel: the notebook is rebuilt from
the released one with only the answer cells taken from the submission, each
answer runs in its own bubblewrap sandbox, and the tests run in the grader
(see ``losslandscape.grading.autograde`` and the threat model in the README).
Feedback hides the hidden tests (see ``losslandscape.grading.feedback``).
"""

import warnings
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from losslandscape.grading.autograde import (
    CommentDiagnoses,
    RebuildFromRelease,
    SandboxedExecute,
    TolerantExporter,
)
from losslandscape.grading.feedback import (
    NBGRADER_TEMPLATES,
    TEMPLATES,
    FeedbackExporter,
    HideHiddenTests,
    HideTracebacks,
    summary_title,
)
from losslandscape.grading.release import LinkToPublishedBook, published_url

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

# Known and harmless, silenced here, in one place, so the rest of the output is read:
# nbgrader's gradebook trips SQLAlchemy's autoflush check on every new submission, and
# kernels that `nbgrader validate` starts warn about unencrypted TCP unless they use IPC.
warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session")
c.KernelManager.transport = "ipc"

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "optimizers-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"

# The release links chapters to the published book, at html.baseurl in the book's _config.yml.
c.GenerateAssignment.preprocessors = [
    LinkToPublishedBook,
    *GenerateAssignment.class_traits()["preprocessors"].make_dynamic_default(),
]
c.LinkToPublishedBook.base_url = published_url(Path(__file__).resolve().parent / "_config.yml")

c.Autograde.exporter_class = TolerantExporter
c.Autograde.sanitize_preprocessors = [
    RebuildFromRelease,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    SandboxedExecute,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    CommentDiagnoses,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.GenerateFeedback.preprocessors = [
    GetGrades,
    HideHiddenTests,
    HideTracebacks,
    CSSHTMLHeaderPreprocessor,
]
# The feedback page is one file that asks for nothing else, as release_feedback hands it
# out and a Jupyter server's /files/ serves it (sandboxed: any other request meets the
# login page). FeedbackExporter writes the formulas as MathML; the course's template
# (losslandscape.grading.feedback.TEMPLATES) extends nbgrader's, loads no MathJax, names
# each test in the summary after what it checks, wraps error messages and shows the
# autograder's comment as written (see losslandscape.grading.feedback). All of it is set
# for GenerateFeedback's exporter only, so the formgrader's pages keep their template,
# and it wins over the HTMLExporter settings that nbgrader (and the formgrader's button) make.
c.GenerateFeedback.exporter_class = FeedbackExporter
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
c.GenerateFeedback.HTMLExporter.template_name = "course_feedback"
c.GenerateFeedback.HTMLExporter.template_file = "feedback.html.j2"
c.GenerateFeedback.HTMLExporter.filters = {"summary_title": summary_title}

# Wall clock per rule and per submission; past either, the sandbox is killed and
# the rule's remaining tests fail, so one submission's grading time is bounded.
c.SandboxedExecute.rule_seconds = 20
c.SandboxedExecute.submission_seconds = 90
