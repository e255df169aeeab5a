"""Flag code in a submission that reaches into the grading machinery, for a teaching assistant to read.

Grades never depend on these flags (the out-of-kernel judge decides); they point a human at the few submissions
that patch libraries, talk to the kernel, switch off tracing or kill the process -- including attempts to dodge the
``forbid`` guard, which runs inside the student's kernel.
"""

from __future__ import annotations

import ast
from typing import Any

# name -> why a reviewer should look
SUSPICIOUS = {
    "get_ipython": "talks to the notebook kernel",
    "setprofile": "changes the profiling hook (the shortcut guard)",
    "settrace": "changes the tracing hook",
    "_exit": "kills the process",
    "kill": "kills a process",
    "__code__": "rewrites a function's code",
    "__globals__": "reaches into a module's globals",
    "__builtins__": "reaches into the builtins",
    "builtins": "reaches into the builtins",
    "modules": "edits sys.modules",
    "importlib": "imports modules by hand",
    "ctypes": "calls C directly",
    "subprocess": "starts processes",
    "environ": "changes environment variables",
    "exec": "runs code from a string",
    "eval": "runs code from a string",
    "compile": "compiles code from a string",
    "setattr": "sets attributes by name",
    "delattr": "deletes attributes by name",
    "__import__": "imports by hand",
    "vars": "reaches into a namespace",
    "_thread": "starts threads below threading (the operator guard watches one thread)",
    "fork": "forks the process",
    "setsid": "detaches a process",
    "_python_dispatch": "reaches PyTorch's dispatch modes (the operator guard)",
    "_pop_mode": "leaves a dispatch mode (the operator guard)",
}
GRADER = "cvlab.grading."  # importing its submodules reaches the grader's internals (students need only run_tests)


def _imported_names(trees: list[ast.AST]) -> set[str]:
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.update(a.asname or a.name for a in node.names)
    return names


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def lint_notebook(nb: Any, known: set[str] = frozenset()) -> list[str]:
    """Return one line per suspicious construct in the student's code cells of ``nb`` (an nbformat node).

    Locked cells and cells whose source is in ``known`` (the sources of the released notebook) are skipped.
    """
    editable = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("locked") or cell.source.strip() in known:
            continue
        try:
            editable.append((meta.get("grade_id") or f"cell {index}", ast.parse(cell.source)))
        except SyntaxError:
            continue  # IPython syntax or a typo: nothing to analyse
    modules = _imported_names([tree for _, tree in editable])
    flags = []
    for where, tree in editable:
        found = []
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            targets = []
            if isinstance(node, ast.Assign | ast.Delete):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root_name(target) in modules:
                    found.append((line, f"assigns {ast.unparse(target)}"))
            module = node.module if isinstance(node, ast.ImportFrom) else None
            imported = [module] if module else [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [(line, f"imports {m} (the grader's internals)") for m in imported if (m or "").startswith(GRADER)]
            if isinstance(node, ast.Import | ast.ImportFrom):  # suspicious modules and names, imported
                parts = {p for m in imported for p in m.split(".")} | {a.name for a in node.names}
                found += [(line, f"uses {p} ({SUSPICIOUS[p]})") for p in parts if p in SUSPICIOUS]
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            if name in SUSPICIOUS:
                found.append((line, f"uses {name} ({SUSPICIOUS[name]})"))
        flags += [f"{where} line {line}: {what}" for line, what in sorted(set(found))]
    return flags
