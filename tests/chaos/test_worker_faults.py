"""Worker faults, with real processes and containers: kill -9, SIGSTOP past the lost
timeout, a graceful restart, and a worker frozen while tasks are placed.

What each proves is in RELIABILITY.md; the figures printed (pytest -rP) are the ones
quoted there.
"""

from __future__ import annotations

import time

import pytest

from tests.chaos.harness import (
    HOLD,
    ChaosCluster,
    Timings,
    assert_clean,
    assert_ended_once,
    attempt_statuses,
    detail,
    requeued_at,
)
from tests.e2e.cluster import TERMINAL, submit, wait_for

pytestmark = pytest.mark.docker


def held_task(chaos: ChaosCluster, **fields: object) -> tuple[str, str]:
    """A HOLD task whose container runs; (task id, the worker that runs it)."""
    with chaos.admin() as admin:
        task_id = submit(admin, command=HOLD, **fields)
        running = wait_for(admin, task_id, {"running"}, timeout=30)
    chaos.log.wait(task_id, 1, "start")
    return task_id, running["worker_id"]


def test_kill_9_requeues_at_the_lost_timeout_and_the_orphan_runs_until_reaped(
    chaos: ChaosCluster,
) -> None:
    t = chaos.timings
    chaos.start("chaos-a", "chaos-b")
    task_id, victim = held_task(chaos, max_retries=1)
    (other,) = {"chaos-a", "chaos-b"} - {victim}
    killed_at = chaos.kill_worker(victim)
    with chaos.admin() as admin:
        wait_for(admin, task_id, {"queued", "assigned"}, timeout=t.lost_s + 10)
        second = wait_for(admin, task_id, {"running"}, timeout=30)
        assert (second["attempt"], second["worker_id"]) == (2, other)
        requeue_s = requeued_at(second, "lost") - killed_at
        chaos.note("kill -9: worker death to requeue", requeue_s)
        # Declared lost once silent for lost_s; its last beat came at most one period
        # before the kill, and the master looks every liveness_check_s.
        assert t.lost_s - t.heartbeat_s - 0.2 <= requeue_s <= t.lost_s + t.liveness_check_s + 2
        second_start = chaos.log.wait(task_id, 2, "start")

        # Nothing stops a dead worker's container: it is still running ...
        assert chaos.log.at(task_id, 1, "die") is None
        assert len(chaos.running_containers(task_id)) == 2
        restarted_at = time.time()
        chaos.start_workers(victim)  # same id, same data directory
        # ... until the worker restarts: it re-attaches to it, lists it when it joins,
        # and stops it at the master's answer (the task has moved on to attempt 2).
        died = chaos.log.wait(task_id, 1, "die")
        assert "re-attached to 1 running tasks" in chaos.workers[victim].output
        overlap = chaos.log.overlap(task_id)
        assert overlap == pytest.approx(died - second_start, abs=0.01)
        assert died >= restarted_at
        chaos.note("kill -9: overlap (second start to the restart's stop)", overlap)
        chaos.note("kill -9: worker restart to orphan stopped", died - restarted_at)

        chaos.release(second)
        done = wait_for(admin, task_id, TERMINAL)
        assert_ended_once(done, "completed")
        assert attempt_statuses(done) == ["lost", "succeeded"] and done["retries"] == 1
        assert done["worker_id"] == other
        # The documented exception: the orphan ran from the kill until the restart.
        assert_clean(chaos, admin, [task_id], overlap_s=overlap)


def test_sigstop_past_the_lost_timeout_then_sigcont_fences_the_stale_attempt(
    chaos: ChaosCluster,
) -> None:
    t = chaos.timings
    chaos.start("chaos-a", "chaos-b")
    task_id, victim = held_task(chaos)
    (other,) = {"chaos-a", "chaos-b"} - {victim}
    frozen_at = chaos.freeze(victim)
    with chaos.admin() as admin:
        wait_for(admin, task_id, {"queued", "assigned"}, timeout=t.lost_s + 10)
        second = wait_for(admin, task_id, {"running"}, timeout=30)
        assert (second["attempt"], second["worker_id"]) == (2, other)
        chaos.note("SIGSTOP: freeze to requeue", requeued_at(second, "lost") - frozen_at)
        chaos.log.wait(task_id, 2, "start")
        assert chaos.log.at(task_id, 1, "die") is None  # the frozen worker's still runs

        thawed_at = chaos.thaw(victim)
        # Its first heartbeat is answered with "stop task/1": it stops the container.
        died = chaos.log.wait(task_id, 1, "die", timeout=15)
        fenced_s = died - thawed_at
        chaos.note("SIGSTOP: SIGCONT to the stale container's death", fenced_s)
        assert fenced_s <= t.heartbeat_s + t.stop_grace_s + 2.0
        overlap = chaos.log.overlap(task_id)
        chaos.note("SIGSTOP: overlap of the two attempts", overlap)

        # The stale attempt's files are fenced and its result dropped at once; the task
        # goes on unchanged and ends once.
        stale = chaos.workers[victim]
        stale.wait_for_output(f"result of {task_id}/1 dropped: the master no longer wants it")
        assert f"result of {task_id}/1 dropped after" not in stale.output
        assert detail(admin, task_id)["status"] == "running"
        chaos.release(second)
        done = wait_for(admin, task_id, TERMINAL)
        assert_ended_once(done, "completed")
        assert attempt_statuses(done) == ["lost", "succeeded"] and done["worker_id"] == other
        files = admin.get(f"/api/files/{task_id}").json()["files"]
        assert [f["path"] for f in files] == ["go"]  # the second attempt's outputs only

        # The thawed worker is a full member again.
        again = submit(admin, command="echo back", target_worker_id=victim)
        assert_ended_once(wait_for(admin, again, TERMINAL), "completed")
        assert_clean(chaos, admin, [task_id, again], overlap_s=t.disconnect_limit_s)


def test_a_graceful_worker_restart_interrupts_and_requeues_without_a_retry(
    chaos: ChaosCluster,
) -> None:
    chaos.start("chaos-a")
    task_id, _ = held_task(chaos, max_retries=0)
    begun = time.monotonic()
    assert chaos.stop_worker("chaos-a") == 0
    exited = time.time()
    chaos.note("graceful stop of a worker with one running task", time.monotonic() - begun)
    # The worker removed its container before it exited: nothing of it outlives it.
    assert chaos.log.wait(task_id, 1, "destroy", timeout=10) <= exited
    with chaos.admin() as admin:
        queued = wait_for(admin, task_id, {"queued"}, timeout=10)
        requeued_at(queued, "interrupted: the worker stopped")
        assert queued["retries"] == 0 and attempt_statuses(queued)[0] == "interrupted"
        # The stopped worker is not deregistered: the next pass may place the task on
        # it again, which fails at once (refused, no retry spent either).
        assert set(attempt_statuses(queued)[1:]) <= {"refused"}, queued["attempts"]
        chaos.start_workers("chaos-a")
        second = wait_for(admin, task_id, {"running"}, timeout=30)
        assert second["attempt"] >= 2
        chaos.release(second)
        done = wait_for(admin, task_id, TERMINAL)
        assert_ended_once(done, "completed")
        statuses = attempt_statuses(done)
        assert statuses[0] == "interrupted" and statuses[-1] == "succeeded", statuses
        assert set(statuses[1:-1]) <= {"refused"} and done["retries"] == 0
        assert not any("cancel" in e["reason"] for e in done["events"]), done["events"]
        assert_clean(chaos, admin, [task_id], overlap_s=0)


def test_a_frozen_worker_does_not_delay_placement_on_the_healthy_one(
    chaos: ChaosCluster,
) -> None:
    # Long enough that the frozen worker still looks active while this runs.
    t = chaos.timings = Timings(suspect_s=6, lost_s=12, assign_timeout_s=8)
    chaos.start("chaos-a", "chaos-b")
    with chaos.admin() as admin:
        chaos.freeze("chaos-b")
        stuck = submit(admin, command=HOLD, target_worker_id="chaos-b")
        submitted = time.monotonic()
        healthy = submit(admin, command=HOLD, target_worker_id="chaos-a")
        running = wait_for(admin, healthy, {"running"}, timeout=t.assign_timeout_s)
        placed_s = time.monotonic() - submitted
        chaos.note("frozen worker: submit to running on the healthy worker", placed_s)
        assert placed_s < t.assign_timeout_s / 2
        # Meanwhile the assignment to the frozen worker is still waiting for an answer.
        waiting = detail(admin, stuck)
        assert (waiting["status"], waiting["worker_id"]) == ("assigned", "chaos-b")

        chaos.thaw("chaos-b")
        resumed = wait_for(admin, stuck, {"running"}, timeout=30)
        for task in (running, resumed):
            chaos.release(task)
            done = wait_for(admin, task["task_id"], TERMINAL)
            assert_ended_once(done, "completed")
            assert attempt_statuses(done) == ["succeeded"]
        assert_clean(chaos, admin, [stuck, healthy], overlap_s=0)
