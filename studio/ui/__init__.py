"""The desktop app: PySide6 pages and controllers on top of the Qt-free engine in studio.core."""
