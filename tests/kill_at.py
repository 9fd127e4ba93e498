"""Run `archiver` and SIGKILL it at a precise point, without a test hook in the tool itself.

    python tests/kill_at.py [--stop] MODULE:FUNCTION[:WHEN] -- ARCHIVER ARGS...

FUNCTION may name a method (`LocalStore.put`) or anything a module holds (`os:replace`). WHEN is
`call` (the default: on entry, before the function runs) or `return` (just after it returned), with
`@N` for the Nth call (`call@2`). The function is wrapped where it is defined and in every loaded module
that imported it by name (`from archiver.bundle.pdf import build_pdf`), so the tool's own lookups find the
wrapper; async functions are wrapped as async functions. Then `archiver.cli.main()` runs with the args.

The process kills itself with SIGKILL: no handler, `finally` or atexit runs, exactly as when the
machine's OOM killer or `kill -9` stops it. The exit status seen by the parent is -9. With `--stop` it
stops itself with SIGSTOP instead, so a test can change the world at that point (take a database lock)
and let it go on with SIGCONT.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import signal
import sys


def _wrap(original, where: str, when: str, nth: int, sig: signal.Signals):
    calls = [0]

    def _die(where: str) -> None:
        sys.stderr.write(f"kill_at: {sig.name} at {where}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), sig)

    def due() -> bool:
        calls[0] += 1
        return calls[0] == nth

    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def wrapper(*args, **kwargs):
            hit = due()
            if hit and when == "call":
                _die(where)
            result = await original(*args, **kwargs)
            if hit and when == "return":
                _die(where)
            return result
    else:
        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            hit = due()
            if hit and when == "call":
                _die(where)
            result = original(*args, **kwargs)
            if hit and when == "return":
                _die(where)
            return result
    return wrapper


def install(spec: str, sig: signal.Signals = signal.SIGKILL) -> None:
    """Wrap the function `spec` names (MODULE:FUNCTION[:WHEN]) wherever the tool can look it up."""
    module_name, _, rest = spec.partition(":")
    name, _, when_spec = rest.partition(":")
    when, _, nth = (when_spec or "call").partition("@")
    if when not in ("call", "return") or not name:
        raise SystemExit(f"kill_at: bad point {spec!r} (MODULE:FUNCTION[:call|return[@N]])")
    importlib.import_module("archiver.cli")  # the tool's modules, loaded as the command loads them
    owner = importlib.import_module(module_name)
    *path, attr = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = inspect.getattr_static(owner, attr)
    function = original.__func__ if isinstance(original, staticmethod | classmethod) else original
    wrapper = _wrap(function, spec, when, int(nth or 1), sig)
    if isinstance(original, staticmethod | classmethod):
        wrapper = type(original)(wrapper)
    setattr(owner, attr, wrapper)
    if not path:  # a module-level function: also where other modules imported it by name
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("archiver") and getattr(module, attr, None) is original:
                setattr(module, attr, wrapper)


def main(argv: list[str]) -> None:
    sig = signal.SIGKILL
    if argv[:1] == ["--stop"]:
        sig, argv = signal.SIGSTOP, argv[1:]
    if len(argv) < 2 or argv[1] != "--":
        raise SystemExit(__doc__)
    install(argv[0], sig)
    from archiver.cli import main as archiver_main

    archiver_main(argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
