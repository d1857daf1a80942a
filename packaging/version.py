"""Print the package's version, read from studio/__init__.py without importing studio (no dependencies needed)."""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "studio" / "__init__.py"


def version() -> str:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    return next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "__version__"
    )


if __name__ == "__main__":
    print(version())
