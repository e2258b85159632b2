"""A reload's config load, off the loop: parse and judge the scripts in a worker thread.

A big or hostile config may take a while to read, and the loop must keep advertising
meanwhile; the thread hands its answer back to the loop as a future.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from astlinux_ha.config import model as cfg
from astlinux_ha.options import Options, load_for_run
from astlinux_ha.preflight.script_security import check_scripts
from astlinux_ha.runtime.plan import ScriptPlan


def load_config(options: Options, path: str
                ) -> tuple[cfg.Config | None, tuple[str, ...], ScriptPlan | None]:
    """Parse ``path`` as ``options`` say (its config id) and judge its scripts, as a fresh
    start would: every verdict is taken again.

    Returns the config, its problem lines and the verdicts; a config that cannot run comes
    back as its problem lines alone: the model it built is freed here, in the thread, not
    on the loop.
    """
    result = load_for_run(options, path)
    lines = tuple(p.render() for p in result.problems)
    if not result.runnable or result.config is None:
        # Every line, not only the fatal one: "no instance left to run" is explained by
        # the errors that dropped each instance.
        return None, lines, None
    return result.config, lines, ScriptPlan.from_report(result.config,
                                                        check_scripts(result.config))


def in_thread(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """``fn(*args)`` in a daemon thread, as a future of the running loop.

    Not asyncio.to_thread: its executor's threads are joined when the loop closes and at
    interpreter exit, so a stop would wait for a parse nobody needs any more.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            result, exc = fn(*args), None
        except BaseException as err:  # handed to the awaiting task, raised there
            result, exc = None, err
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, result, exc)

    threading.Thread(target=work, name="config load", daemon=True).start()
    return future
