"""Domain errors. Every message says what went wrong and what to do about it."""


class IPEError(Exception):
    """Base of every error the kit reports to a person (the CLI prints it, no traceback)."""


class StoreError(IPEError):
    """The DuckDB store could not do what was asked."""


class StoreLockedError(StoreError):
    """Another process holds the store read-write."""


class CatalogError(IPEError):
    """A catalog import was rejected; nothing was written."""


class MediaError(IPEError):
    """A video or image could not be read or written."""


class NoFaceError(IPEError):
    """No face was found where one was needed."""


class CheckpointError(IPEError):
    """A checkpoint file is missing, foreign, corrupt or of the wrong kind."""


class SettingsError(IPEError):
    """A setting (environment variable or configuration value) has a value the kit cannot use."""


class VolunteerWithdrawnError(StoreError):
    """A write for a volunteer who has withdrawn (whose data was deleted); nothing was stored."""
