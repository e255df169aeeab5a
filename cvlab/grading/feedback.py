"""nbgrader feedback without the hidden tests: their source and their tracebacks are removed, the message stays.

Enabled in ``nbgrader_config.py`` (``GenerateFeedback.preprocessors``), so ``nbgrader generate_feedback`` never
shows a student the hidden test code -- only each failure's one-paragraph explanation and the grade.
"""

from __future__ import annotations

from typing import Any

from nbgrader.preprocessors import ClearHiddenTests


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden-test regions from the source and shorten the errors of those cells to ``Name: message``."""

    def preprocess_cell(self, cell: Any, resources: Any, cell_index: int) -> tuple[Any, Any]:
        had_hidden = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
