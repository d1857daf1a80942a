"""The Qt-free engine: data, models, training, metrics, export and inference.

Importing this package is cheap: torch, transformers and datasets load inside the functions that need them.
"""

from studio.core.errors import ConfigError, DataError, ModelError, StudioError

__all__ = ["ConfigError", "DataError", "ModelError", "StudioError"]
