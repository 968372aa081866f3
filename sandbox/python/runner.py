"""progtc's Python runner, frozen into the Pyodide memory snapshot as the module `_progtc`.

It runs one program per interpreter (a session: one after another, in the same globals): the
sandbox worker calls `attach()` once with its two JavaScript callbacks, then `receive()` with
every protocol line from the server. The module
removes itself from `sys.modules` when attached, so user code does not import it by accident;
anything the user's code does to it only affects its own execution (one process per run).

Its code objects carry the file name "<progtc>": traceback frames with that name are the
runner's own and are never shown to the user.
"""

import ast
import asyncio
import builtins
import importlib.abc
import importlib.util
import errno
import json
import linecache
import os
import posix
import random
import re
import sys
import traceback
import types
import weakref

from pyodide.webloop import WebLoop

CODE_FILE = "<code>"
RUNNER_FILE = "<progtc>"

# What the protocol needs, taken now: a program that replaces `json.dumps` (or any of these)
# must not change the lines its runner writes.
_json_dumps = json.dumps
_json_loads = json.loads
_get_running_loop = asyncio.get_running_loop
_ensure_future = asyncio.ensure_future
_iscoroutine = asyncio.iscoroutine
_current_task = asyncio.current_task
_TracebackException = traceback.TracebackException
_StackSummary = traceback.StackSummary
_format_exception_only = traceback.format_exception_only


class ToolError(Exception):
    """A tool failed on the client side."""


class DeterminismError(Exception):
    """A replayed tool call differs from the one recorded for its place in the program."""


# Shown as `ToolError: ...` in tracebacks, like builtin exceptions.
ToolError.__module__ = "builtins"
DeterminismError.__module__ = "builtins"


class _State:
    def __init__(self, post=None, finish=None):
        self.post = post  # JS: post(line) sends one protocol line
        self.finish = finish  # JS: finish(line) sends the terminal line, then nothing more
        self.started = False
        self.ended = False
        self.report_idle = False
        self.next_id = 1
        self.pending = {}
        self.called_since_idle = False
        self.live = set()
        # Call keys: each task's frame (the path of tasks that created it), and counters of the
        # child tasks and the tool calls made in each frame.
        self.frames = weakref.WeakKeyDictionary()
        self.children = {}
        self.calls = {}
        # A session's globals, kept from one program to the next (None outside a session).
        self.scope = None

    def next_program(self):
        """The state of a session's next program: its globals and the call ids go on."""
        state = _State(self.post, self.finish)
        state.next_id = self.next_id
        state.scope = self.scope
        return state


_st = _State()


# ─── idle detection ─────────────────────────────────────────────────────────────────────────
# WebLoop schedules every callback through call_later. Track the handles that are scheduled
# and not yet run: when none is left (cancelled ones do not count) and a tool call is
# pending, every path of the program waits on a tool.

_orig_call_later = WebLoop.call_later


def _call_later(self, delay, callback, *args, context=None):
    handle = None

    def step(*a):
        _st.live.discard(handle)
        try:
            callback(*a)
        finally:
            _after_step()

    handle = _orig_call_later(self, delay, step, *args, context=context)
    _st.live.add(handle)
    return handle


WebLoop.call_later = _call_later


# ─── call keys ──────────────────────────────────────────────────────────────────────────────
# A task's frame is its parent task's frame and its position among that parent's children:
# the same on every run of the same program, however its tool results are timed.

_orig_create_task = WebLoop.create_task


def _create_task(self, coro, *args, **kwargs):
    parent = _current_task(self)
    frame = _st.frames.get(parent, ()) if parent is not None else ()
    position = _st.children.get(frame, 0)
    _st.children[frame] = position + 1
    task = _orig_create_task(self, coro, *args, **kwargs)
    _st.frames[task] = frame + (position,)
    return task


WebLoop.create_task = _create_task


def _after_step():
    if not (_st.report_idle and _st.called_since_idle and _st.pending) or _st.ended:
        return
    for handle in list(_st.live):
        if not handle.cancelled():
            return
        _st.live.discard(handle)
    _st.called_since_idle = False
    _st.post(f'{{"type":"idle","pending":{_dumps(list(_st.pending))}}}')


# ─── tools ──────────────────────────────────────────────────────────────────────────────────


def _dumps(value):
    return _json_dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


async def _call(name, args, kwargs):
    # The server measures the arguments against their limit (on what its client gets); the
    # worker fails a call whose line would not fit the pipe's bound, as the server would.
    args_json = _dumps(list(args))
    kwargs_json = _dumps(kwargs)
    future = _get_running_loop().create_future()
    call_id = _st.next_id
    _st.next_id += 1
    _st.pending[call_id] = future
    _st.called_since_idle = True
    task = _current_task()
    frame = _st.frames.get(task, ()) if task is not None else ()
    index = _st.calls.get(frame, 0)
    _st.calls[frame] = index + 1
    _st.post(
        f'{{"type":"tool_call","id":{call_id},"name":{_dumps(name)},'
        f'"args":{args_json},"kwargs":{kwargs_json},'
        f'"frame":{_dumps(list(frame))},"index":{index}}}'
    )
    try:
        return await future
    finally:
        _st.pending.pop(call_id, None)


def _tool(name):
    async def tool(*args, **kwargs):
        return await _call(name, args, kwargs)

    tool.__name__ = tool.__qualname__ = name
    return tool


def _tools_module(names):
    module = types.ModuleType("tools", "The tools of this execution: every one is async.")
    module.ToolError = ToolError
    for name in names:
        setattr(module, name, _tool(name))
    return module


def _settle(message):
    future = _st.pending.get(message.get("id"))
    if future is None or future.done():
        return
    # The program may then wait on the calls left without making a new one: say so again.
    _st.called_since_idle = True
    if message["type"] == "tool_result":
        future.set_result(message.get("value"))
    elif message.get("name") == "TimeoutError":
        future.set_exception(TimeoutError(str(message.get("message", ""))))
    elif message.get("name") == "DeterminismError":
        future.set_exception(DeterminismError(str(message.get("message", ""))))
    else:
        future.set_exception(ToolError(str(message.get("message", ""))))


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


def _flush():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def _clip(text):
    # The server keeps at most 64 KiB of an error's text (MAX_ERROR_BYTES in sandbox_protocol.ts).
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= 65536:
        return text
    return data[:65536].decode("utf-8", "ignore") + "\n[progtc: error text truncated]"


def _finish(message):
    if _st.ended:
        return
    _flush()
    _st.ended = True
    if "error" in message:
        message["error"] = _clip(message["error"])
    _st.finish(_json_dumps(message, separators=(",", ":")))


def _exit(code):
    if code is None:
        _finish({"type": "exit", "code": 0})
    elif isinstance(code, int):
        code = int(code)  # sys.exit(True) is exit code 1
        _finish({"type": "exit", "code": code if -(2**53) < code < 2**53 else 1})
    else:
        try:
            print(code, file=sys.stderr)
        except BaseException:
            pass
        _finish({"type": "exit", "code": 1})


# ─── run ────────────────────────────────────────────────────────────────────────────────────


async def _run(message):
    code = message["code"]
    _st.report_idle = message["reportIdle"] is True
    modules = message.get("modules") or {}
    conflicts = module_conflicts(modules)
    if conflicts:
        _finish(
            {
                "type": "runtime_error",
                "error": "ModuleNameConflictError: client module names are not allowed: "
                + ", ".join(conflicts)
                + "\n",
            }
        )
        return
    sys.modules["tools"] = _tools_module(message["toolNames"])
    if modules:
        sys.meta_path.insert(0, _ModuleFinder(dict(modules)))
    _cache_source(CODE_FILE, code)
    want_value = message.get("returnValue") is True
    try:
        source = _with_value(code) if want_value else code
        compiled = compile(
            source, CODE_FILE, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
    except (SyntaxError, ValueError) as error:
        _finish({"type": "syntax_error", "error": "".join(_format_exception_only(error))})
        return
    scope = _st.scope
    if scope is None:
        scope = {"__name__": "__main__", "__builtins__": builtins}
        if message.get("session") is True:
            _st.scope = scope
    scope.pop(_VALUE, None)
    try:
        result = eval(compiled, scope)
        if _iscoroutine(result):
            # The program's top level is a task of its own: frame (0,).
            await _get_running_loop().create_task(result)
    except SystemExit as error:
        _exit(error.code)
    except DeterminismError as error:
        _finish({"type": "determinism_error", "error": format_error(error)})
    except BaseException as error:
        _finish({"type": "runtime_error", "error": format_error(error)})
    else:
        if want_value and _VALUE in scope and scope[_VALUE] is not None:
            _finish_with_value(scope[_VALUE])
        else:
            _finish({"type": "success"})


_VALUE = "__progtc_value__"


def _with_value(code):
    """The program's AST with its last expression, if it ends with one, kept in `_VALUE`."""
    tree = ast.parse(code, CODE_FILE, "exec")
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        tree.body[-1] = ast.Assign(targets=[ast.Name(_VALUE, ast.Store())], value=last.value)
        ast.copy_location(tree.body[-1], last)
        ast.fix_missing_locations(tree)
    return tree


def _finish_with_value(value):
    try:
        text = _dumps(value)
    except (TypeError, ValueError) as error:
        _finish(
            {
                "type": "runtime_error",
                "error": f"TypeError: the program's last expression cannot be sent as JSON: {error}\n",
            }
        )
        return
    if _st.ended:
        return
    _flush()
    _st.ended = True
    # Its size is the server's to measure (the worker replaces an end too long for the pipe).
    _st.finish(f'{{"type":"success","value":{text}}}')


def _start(message):
    global _st
    if _st.started:
        # Only a session runs another program, once the last one ended.
        if not (_st.ended and _st.scope is not None and message.get("session") is True):
            return
        _st = _st.next_program()
    _st.started = True
    task = _ensure_future(_run(message))
    # The runner's own task is the root: the program's is its first child, (0,).
    _st.frames[task] = ()
    _st.children.clear()

    def done(task):
        if not task.cancelled() and task.exception() is not None:
            _finish({"type": "runtime_error", "error": format_error(task.exception())})

    task.add_done_callback(done)


def receive(line):
    """Handles one line from the server."""
    try:
        message = _json_loads(line)
        kind = message.get("type")
    except (ValueError, AttributeError):
        return
    if kind == "run":
        _start(message)
    elif kind in ("tool_result", "tool_error"):
        _settle(message)
    elif kind == "tool_results":
        # A whole batch before the program runs again.
        for item in message.get("items") or ():
            if isinstance(item, dict):
                _settle(item)


def attach(post, finish):
    """Connects the runner to its worker; called once, before the program runs."""
    _st.post = post
    _st.finish = finish
    loop = asyncio.get_event_loop()
    loop._system_exit_handler = _exit
    loop._keyboard_interrupt_handler = lambda: _finish(
        {"type": "runtime_error", "error": "KeyboardInterrupt\n"}
    )
    # The snapshot froze the generator's state: every sandbox would draw the same numbers.
    random.seed()
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    sys.modules.pop("_progtc", None)


_WARM_CODE = """
import asyncio, json, sys
from tools import echo
values = await asyncio.gather(echo(1, key="a"), echo([2.5, None]))
print(json.dumps(values), file=sys.stdout)
print("warm", file=sys.stderr)
raise ValueError(f"warm {values}")
"""


async def warm():
    """Runs a program through every code path once (Pyodide compiles wasm functions lazily),
    then forgets it. Called before the sandbox reports ready; nothing it prints is forwarded."""
    global _st
    _st = _State(post=lambda line: None, finish=lambda line: None)
    message = {
        "type": "run",
        "code": _WARM_CODE,
        "toolNames": ["echo"],
        "reportIdle": True,
    }
    task = asyncio.ensure_future(_run(message))
    while len(_st.pending) < 2 and not task.done():
        await asyncio.sleep(0)
    for call_id in list(_st.pending):
        receive(json.dumps({"type": "tool_result", "id": call_id, "value": {"warm": [call_id]}}))
    await task
    try:
        compile("x = (", CODE_FILE, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as error:
        traceback.format_exception_only(error)
    sys.modules.pop("tools", None)
    linecache.cache.pop(CODE_FILE, None)
    _st = _State()
