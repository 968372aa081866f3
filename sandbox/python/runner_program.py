"""progtc's Python runner, what a program is given and how its errors read: frozen into the
Pyodide memory snapshot as the module `_progtc_program` (see runner.py).

Client modules (progtc 0.2.0) imported from their sources, `os.system` refused as `subprocess`
refuses, and tracebacks without the runner's frames (file name "<progtc>").
"""

import errno
import importlib.abc
import importlib.util
import linecache
import os
import posix
import re
import sys
import traceback

RUNNER_FILE = "<progtc>"

# Taken now: a program that replaces them must not change how its errors read.
_TracebackException = traceback.TracebackException
_StackSummary = traceback.StackSummary


# ─── client modules (progtc 0.2.0) ──────────────────────────────────────────────────────────


def _cache_source(filename, source):
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(source), None, lines, filename)


class _ModuleLoader(importlib.abc.Loader):
    def __init__(self, source):
        self._source = source

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename = f"<{module.__name__}>"
        _cache_source(filename, self._source)
        exec(compile(self._source, filename, "exec", dont_inherit=True), module.__dict__)


class _ModuleFinder(importlib.abc.MetaPathFinder):
    def __init__(self, modules):
        self._modules = modules

    def find_spec(self, fullname, path, target=None):
        source = self._modules.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, _ModuleLoader(source), origin=f"<{fullname}>"
        )


def module_conflicts(names):
    """Names that are not identifiers, are "tools", or shadow an importable module."""
    return [
        name
        for name in names
        if not name.isidentifier()
        or name == "tools"
        or name in sys.modules
        or importlib.util.find_spec(name) is not None
    ]


def importable_modules():
    """Top-level module names this interpreter can import (for the server's check)."""
    import pkgutil

    names = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    names |= {name.partition(".")[0] for name in sys.modules}
    names |= {info.name for info in pkgutil.iter_modules()}
    names |= {"js", "pyodide_js", "tools"}
    return sorted(names)


# ─── commands ───────────────────────────────────────────────────────────────────────────────
# `os.system` goes through Emscripten to a process spawn the sandbox denies, which Pyodide takes
# as a fatal error; a program gets the OSError that `subprocess` already raises instead.


def _no_commands(*args, **kwargs):
    raise OSError(errno.ENOTSUP, "programs here cannot run commands")


os.system = posix.system = _no_commands


# ─── errors ─────────────────────────────────────────────────────────────────────────────────


def _strip_runner_frames(te, seen):
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        te.stack = _StackSummary.from_list(
            [frame for frame in te.stack if frame.filename != RUNNER_FILE]
        )
        for group in te.exceptions or ():
            _strip_runner_frames(group, seen)
        _strip_runner_frames(te.__cause__, seen)
        te = te.__context__


# Deno's advice in a denial is for whoever starts a process; a program cannot take it.
_ALLOW_ADVICE = re.compile(r", run again with the --allow-\w+ flag")


def format_error(error):
    """The traceback of `error` without the runner's frames."""
    te = _TracebackException.from_exception(error)
    _strip_runner_frames(te, set())
    return _ALLOW_ADVICE.sub(", which programs here do not have", "".join(te.format()))
