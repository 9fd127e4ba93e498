"""A page's API token: from a file only its owner may read, or from an environment variable.

The register names where the token is (`api: {token_file: PATH}` or `token_env: NAME`), never the token
itself; a relative token_file is relative to the register's folder. A token file others can read is
refused, as ssh refuses a private key anyone can read: exit 2, naming the file and the fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from archiver.errors import BadInputError


def read_token(api, register_path: Path | None, env=os.environ) -> str:
    """The token for `api` (the page's ApiSettings)."""
    if api.token_env:
        value = (env.get(api.token_env) or "").strip()
        if not value:
            raise BadInputError(f"environment variable {api.token_env} (api.token_env) is not set")
        return value
    path = Path(api.token_file).expanduser()
    if not path.is_absolute() and register_path is not None:
        path = Path(register_path).parent / path
    try:
        info = path.stat()
    except OSError as exc:
        raise BadInputError(f"cannot read the token file {path} (api.token_file): {exc.strerror}") from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadInputError(f"the token file {path} can be read by others (mode {stat.S_IMODE(info.st_mode):o}); "
                            f"make it the owner's only: chmod 600 {path}")
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise BadInputError(f"the token file {path} is empty")
    return value
