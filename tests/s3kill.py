"""`archiver ARGS...` that SIGKILLs itself in the middle of its S3 upload, for the crash tests.

S3KILL_AFTER=part: killed once the first part of a multipart upload is stored (the upload stays open);
S3KILL_AFTER=object: killed once the first whole object is uploaded and verified. Only this test wrapper
patches the store; production code has no hook for it.
"""

from __future__ import annotations

import functools
import os
import signal

from archiver.cli import main
from archiver.store.s3objects import S3Objects


def _then_die(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        result = method(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return result
    return wrapper


if __name__ == "__main__":
    where = os.environ["S3KILL_AFTER"]
    name = {"part": "_upload_part", "object": "put_file"}[where]
    setattr(S3Objects, name, _then_die(getattr(S3Objects, name)))
    main()
