"""nbgrader configuration of the cvlab course (the repository root is the course root).

Instructors write ``solutions/<a>/<a>.ipynb``; ``nbgrader generate_assignment <a>`` writes the student release to
``assignments/<a>/``. Everything produced while grading (submissions, autograded notebooks, feedback) lives under the
git-ignored ``grading/`` folder, the gradebook in the git-ignored ``gradebook.db``. See docs/instructor.md.
"""

import os

c = get_config()  # noqa: F821 -- injected by traitlets when nbgrader loads this file

root = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = root
c.CourseDirectory.course_id = "cvlab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.solution_directory = os.path.join("grading", "solution")
# Parallel autograde workers share the gradebook: wait for the SQLite lock instead of failing after 5 s.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, "gradebook.db") + "?timeout=60"
# The reference-case store and its build spec (solutions/<a>/cases/, solutions/<a>/cases.py) hold the hidden
# expectations: never copied into the release nor into the autograded folders.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "cases", "cases.py"]

# Execution: per-cell limit sized for a 2-core CPU grader (importing torch alone takes seconds there); the graded
# checks stop a looping student function sooner by themselves (see cvlab.grading.run).
c.Execute.kernel_name = "python3"
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# A deleted test cell is put back (and run), an edited one restored from the gradebook.
c.OverwriteCells.add_missing_cells = True

# Feedback shows grades and messages but never the hidden tests' source or their tracebacks.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "cvlab.grading.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
