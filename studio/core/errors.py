"""Typed errors whose message is one sentence a user can act on."""


class StudioError(Exception):
    """A failure the user can fix; str(error) says what is wrong and what to do."""


class DataError(StudioError):
    """A training or validation file that cannot be used as it is."""


class ModelError(StudioError):
    """A model that cannot be found, loaded or trusted."""


class ConfigError(StudioError):
    """A setting that cannot work (a learning rate <= 0, more frozen layers than the model has...)."""


class ExportError(StudioError):
    """An export that could not be written; nothing half-written is left behind."""


class OutOfMemoryError(StudioError):
    """The GPU ran out of memory; retry_config halves the batch size and doubles accumulation."""

    def __init__(self, message: str, retry_config=None):
        super().__init__(message)
        self.retry_config = retry_config
