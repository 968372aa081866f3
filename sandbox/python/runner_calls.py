"""progtc's Python runner, its program's tool calls: frozen into the Pyodide memory snapshot as
the module `_progtc_calls` (see runner.py).

The state of the program that runs (`st`, replaced for each program: read it as `_progtc_calls.st`
elsewhere), the `tools` module it imports, the call keys that name each call by where the program
made it, and the idle reports that say when every path of the program waits on a tool.
"""

import asyncio
import json
import types
import weakref

from pyodide.webloop import WebLoop

# Taken now: a program that replaces them must not change the lines its runner writes.
_json_dumps = json.dumps
_get_running_loop = asyncio.get_running_loop
_current_task = asyncio.current_task


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


st = _State()


# ─── idle detection ─────────────────────────────────────────────────────────────────────────
# WebLoop schedules every callback through call_later. Track the handles that are scheduled
# and not yet run: when none is left (cancelled ones do not count) and a tool call is
# pending, every path of the program waits on a tool.

_orig_call_later = WebLoop.call_later


def _call_later(self, delay, callback, *args, context=None):
    handle = None

    def step(*a):
        st.live.discard(handle)
        try:
            callback(*a)
        finally:
            _after_step()

    handle = _orig_call_later(self, delay, step, *args, context=context)
    st.live.add(handle)
    return handle


WebLoop.call_later = _call_later


# ─── call keys ──────────────────────────────────────────────────────────────────────────────
# A task's frame is its parent task's frame and its position among that parent's children:
# the same on every run of the same program, however its tool results are timed.

_orig_create_task = WebLoop.create_task


def _create_task(self, coro, *args, **kwargs):
    parent = _current_task(self)
    frame = st.frames.get(parent, ()) if parent is not None else ()
    position = st.children.get(frame, 0)
    st.children[frame] = position + 1
    task = _orig_create_task(self, coro, *args, **kwargs)
    st.frames[task] = frame + (position,)
    return task


WebLoop.create_task = _create_task


def _after_step():
    if not (st.report_idle and st.called_since_idle and st.pending) or st.ended:
        return
    for handle in list(st.live):
        if not handle.cancelled():
            return
        st.live.discard(handle)
    st.called_since_idle = False
    st.post(f'{{"type":"idle","pending":{_dumps(list(st.pending))}}}')


# ─── tools ──────────────────────────────────────────────────────────────────────────────────


def _dumps(value):
    return _json_dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


async def _call(name, args, kwargs):
    # The server measures the arguments against their limit (on what its client gets); the
    # worker fails a call whose line would not fit the pipe's bound, as the server would.
    args_json = _dumps(list(args))
    kwargs_json = _dumps(kwargs)
    future = _get_running_loop().create_future()
    call_id = st.next_id
    st.next_id += 1
    st.pending[call_id] = future
    st.called_since_idle = True
    task = _current_task()
    frame = st.frames.get(task, ()) if task is not None else ()
    index = st.calls.get(frame, 0)
    st.calls[frame] = index + 1
    st.post(
        f'{{"type":"tool_call","id":{call_id},"name":{_dumps(name)},'
        f'"args":{args_json},"kwargs":{kwargs_json},'
        f'"frame":{_dumps(list(frame))},"index":{index}}}'
    )
    try:
        return await future
    finally:
        st.pending.pop(call_id, None)


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
    future = st.pending.get(message.get("id"))
    if future is None or future.done():
        return
    # The program may then wait on the calls left without making a new one: say so again.
    st.called_since_idle = True
    if message["type"] == "tool_result":
        future.set_result(message.get("value"))
    elif message.get("name") == "TimeoutError":
        future.set_exception(TimeoutError(str(message.get("message", ""))))
    elif message.get("name") == "DeterminismError":
        future.set_exception(DeterminismError(str(message.get("message", ""))))
    else:
        future.set_exception(ToolError(str(message.get("message", ""))))
