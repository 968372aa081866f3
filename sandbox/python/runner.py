"""progtc's Python runner, frozen into the Pyodide memory snapshot as the module `_progtc`.

It runs one program per interpreter (a session: one after another, in the same globals): the
sandbox worker calls `attach()` once with its two JavaScript callbacks, then `receive()` with
every protocol line from the server. Its other parts are modules of their own, installed before
it: the program's tool calls (`_progtc_calls`, runner_calls.py) and what a program is given and
how its errors read (`_progtc_program`, runner_program.py). It takes them all out of
`sys.modules` when attached, so user code does not import them by accident; anything the user's
code does to them only affects its own execution (every program has a worker of its own).

Their code objects carry the file name "<progtc>": traceback frames with that name are the
runner's own and are never shown to the user.
"""

import ast
import asyncio
import builtins
import json
import linecache
import random
import sys
import traceback

import _progtc_calls as _calls
import _progtc_program as _program
from _progtc_calls import DeterminismError, _dumps, _settle, _tools_module
from _progtc_program import _cache_source, _ModuleFinder, format_error, module_conflicts

CODE_FILE = "<code>"

# What the protocol needs, taken now: a program that replaces `json.dumps` (or any of these)
# must not change the lines its runner writes.
_json_dumps = json.dumps
_json_loads = json.loads
_ensure_future = asyncio.ensure_future
_get_running_loop = asyncio.get_running_loop
_iscoroutine = asyncio.iscoroutine
_format_exception_only = traceback.format_exception_only


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
    if _calls.st.ended:
        return
    _flush()
    _calls.st.ended = True
    if "error" in message:
        message["error"] = _clip(message["error"])
    _calls.st.finish(_json_dumps(message, separators=(",", ":")))


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
    _calls.st.report_idle = message["reportIdle"] is True
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
    scope = _calls.st.scope
    if scope is None:
        scope = {"__name__": "__main__", "__builtins__": builtins}
        if message.get("session") is True:
            _calls.st.scope = scope
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
    if _calls.st.ended:
        return
    _flush()
    _calls.st.ended = True
    # Its size is the server's to measure (the worker replaces an end too long for the pipe).
    _calls.st.finish(f'{{"type":"success","value":{text}}}')


def _start(message):
    if _calls.st.started:
        # Only a session runs another program, once the last one ended.
        if not (_calls.st.ended and _calls.st.scope is not None and message.get("session") is True):
            return
        _calls.st = _calls.st.next_program()
    _calls.st.started = True
    task = _ensure_future(_run(message))
    # The runner's own task is the root: the program's is its first child, (0,).
    _calls.st.frames[task] = ()
    _calls.st.children.clear()

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
    _calls.st.post = post
    _calls.st.finish = finish
    loop = asyncio.get_event_loop()
    loop._system_exit_handler = _exit
    loop._keyboard_interrupt_handler = lambda: _finish(
        {"type": "runtime_error", "error": "KeyboardInterrupt\n"}
    )
    # The snapshot froze the generator's state: every sandbox would draw the same numbers.
    random.seed()
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    for module in (__name__, _calls.__name__, _program.__name__):
        sys.modules.pop(module, None)


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
    _calls.st = _calls._State(post=lambda line: None, finish=lambda line: None)
    message = {
        "type": "run",
        "code": _WARM_CODE,
        "toolNames": ["echo"],
        "reportIdle": True,
    }
    task = asyncio.ensure_future(_run(message))
    while len(_calls.st.pending) < 2 and not task.done():
        await asyncio.sleep(0)
    for call_id in list(_calls.st.pending):
        receive(json.dumps({"type": "tool_result", "id": call_id, "value": {"warm": [call_id]}}))
    await task
    try:
        compile("x = (", CODE_FILE, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as error:
        traceback.format_exception_only(error)
    sys.modules.pop("tools", None)
    linecache.cache.pop(CODE_FILE, None)
    _calls.st = _calls._State()
