"""A notifier without scripts costs next to nothing (issue 16: one per instance, 200 of them)."""

from __future__ import annotations

import asyncio
import os
import tracemalloc
from pathlib import Path

from astlinux_ha.scripts.notify import Notifier, NotifyScripts
from astlinux_ha.scripts.runner import RunnableScript
from astlinux_ha.scripts.users import ScriptUser

INSTANCES = 200


def test_an_instance_without_scripts_keeps_no_queue_or_worker() -> None:
    async def scenario() -> tuple[int, int]:
        names = [f"VI_{n}" for n in range(INSTANCES)]
        scripts = NotifyScripts()
        tasks_before = len(asyncio.all_tasks())
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            notifiers = [Notifier("INSTANCE", name, scripts) for name in names]
            for notifier in notifiers:
                for state in ("BACKUP", "MASTER", "MASTER_PRIORITY", "FAULT"):
                    notifier.notify(state, 100)
                await notifier.drain()
            held = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
        tasks = len(asyncio.all_tasks()) - tasks_before
        for notifier in notifiers:
            await notifier.close()
        return held, tasks

    held, tasks = asyncio.run(scenario())
    assert tasks == 0
    # An asyncio Queue alone (three deques and an Event) is ~3.5 KiB.
    assert held / INSTANCES < 512


def test_scripts_still_run_in_order_across_a_close(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    script.chmod(0o755)
    me = ScriptUser(os.geteuid(), os.getegid(), (os.getegid(),), "me")
    scripts = NotifyScripts(generic=RunnableScript((str(script),), me))

    async def scenario() -> None:
        notifier = Notifier("INSTANCE", "VI_1", scripts)
        notifier.notify("BACKUP", 100)
        notifier.notify("MASTER", 100)
        await notifier.drain()
        await notifier.close()
        # A reload keeps the instance: its notifier is used again after a close.
        notifier.notify("FAULT", 100)
        await notifier.close()

    asyncio.run(scenario())
    assert log.read_text().splitlines() == [
        "INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100", "INSTANCE VI_1 FAULT 100"]
