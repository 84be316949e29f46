import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import type { Task } from "../api/client";
import { TaskTable } from "../components/TaskTable";

function task(id: string, status: Task["status"], extra: Partial<Task> = {}): Task {
  return {
    task_id: id, name: `name-${id}`, user_id: "u-1", docker_image: "busybox", command: "true",
    cpu_required: 1, memory_required: 0.5, storage_required: 1, gpu_required: 0, tag: "", k_value: 2,
    status, reason: "", pending_reason: null, queue_position: null, priority: 0, task_type: "cpu-light",
    max_retries: 0, retries: 0, timeout_seconds: null, env: {}, target_worker_id: null, tau_seconds: 5,
    deadline: null, sla_met: null, worker_id: null, exit_code: null, attempt: 0,
    created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", started_at: null, finished_at: null,
    ...extra,
  } as Task;
}

const tasks = [
  task("t1", "running", { worker_id: "w-1" }),
  task("t2", "completed"),
  task("t3", "queued", { pending_reason: "no worker with 1 free GPU", docker_image: "pytorch" }),
];

function show(props: Partial<Parameters<typeof TaskTable>[0]> = {}) {
  return render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <TaskTable tasks={tasks} {...props} />
    </MemoryRouter>,
  );
}

describe("TaskTable", () => {
  it("lists every task with its status, link and why a queued one waits", () => {
    show();
    expect(screen.getAllByRole("row")).toHaveLength(4);
    expect(screen.getByRole("link", { name: "name-t1" })).toHaveAttribute("href", "/tasks/t1");
    const row = screen.getByRole("row", { name: /name-t3/ });
    expect(within(row).getByText("queued")).toBeInTheDocument();
    expect(within(row).getByText("no worker with 1 free GPU")).toBeInTheDocument();
  });

  it("offers cancel only for unfinished tasks and cancels the right one", async () => {
    const onCancel = vi.fn();
    show({ onCancel });
    expect(screen.getAllByRole("button", { name: /^Cancel/ })).toHaveLength(2);
    expect(screen.queryByRole("button", { name: "Cancel name-t2" })).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Cancel name-t3" }));
    expect(onCancel).toHaveBeenCalledWith(tasks[2]);
  });

  it("narrows to what the search matches, and says when nothing does", () => {
    const { rerender } = show({ search: "PYTORCH" });
    expect(screen.getAllByRole("row")).toHaveLength(2);
    rerender(
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <TaskTable tasks={tasks} search="nothing-like-this" />
      </MemoryRouter>,
    );
    expect(screen.getByText("No task matches.")).toBeInTheDocument();
  });
});
