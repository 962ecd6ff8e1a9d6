"""Tools for trying Ghostless without real vendors: used by the test suite and by `ghostless demo`.

Nothing here is imported by the service itself; production never needs it.
"""
