"""The scripts the capture runs inside pages, kept as JavaScript files so they read as JavaScript."""

from functools import cache
from importlib.resources import files


@cache
def script(name: str) -> str:
    return files(__name__).joinpath(name).read_text("utf-8")
