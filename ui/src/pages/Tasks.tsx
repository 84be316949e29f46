import { useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { api, ok, STATUSES, type Task, type TaskStatus } from "../api/client";
import { useAuth } from "../auth";
import { ErrorBox, Loading } from "../components/States";
import { TaskTable } from "../components/TaskTable";
import { useAsync, useSocket } from "../hooks";

const PAGE = 50;
const FILTERS = ["status", "tag", "worker_id", "user_id", "since", "q"] as const;
const SEARCH_DELAY_MS = 300; // the server is asked once typing pauses

export function TasksPage() {
  const { isAdmin } = useAuth();
  const [params, setParams] = useSearchParams();
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  // Narrows the page at once as you type; the server search (`q`) follows a pause.
  const [search, setSearch] = useState(params.get("q") ?? "");
  const [actionError, setActionError] = useState<Error>();
  const cursor = cursors[cursors.length - 1];
  const query = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || undefined]));
  const key = params.toString();
  const page = useAsync(
    () =>
      ok(
        api.GET("/api/tasks", {
          params: {
            query: {
              ...query,
              since: query.since ? new Date(query.since).toISOString() : undefined,
              cursor,
              limit: PAGE,
            },
          },
        }),
      ),
    [key, cursor],
  );

  useSocket(
    () => "/ws/events",
    (m) => {
      if (m.type !== "task" || !page.data) return;
      const id = String(m.task_id);
      const tasks = page.data.tasks;
      if (tasks.some((t) => t.task_id === id)) {
        page.set({
          ...page.data,
          tasks: tasks.map((t) => (t.task_id === id ? { ...t, status: m.to_status as TaskStatus } : t)),
        });
      } else if (m.from_status === null && cursors.length === 1) {
        page.reload(); // a new task: the first page shows it
      }
    },
  );

  useEffect(() => {
    if (search.trim() === (params.get("q") ?? "")) return;
    const timer = setTimeout(() => setFilter("q", search.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [search]);

  function setFilter(name: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
    setCursors([undefined]);
  }

  async function cancel(task: Task) {
    setActionError(undefined);
    try {
      await ok(api.DELETE("/api/tasks/{task_id}", { params: { path: { task_id: task.task_id } } }));
      page.reload();
    } catch (e) {
      setActionError(e as Error);
    }
  }

  return (
    <>
      <h1>Tasks</h1>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="id, name, image…" />
        </label>
        <label>
          Status
          <select value={params.get("status") ?? ""} onChange={(e) => setFilter("status", e.target.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Tag
          <input defaultValue={params.get("tag") ?? ""} onBlur={(e) => setFilter("tag", e.target.value)} onKeyDown={enter(setFilter, "tag")} />
        </label>
        <label>
          Worker
          <input defaultValue={params.get("worker_id") ?? ""} onBlur={(e) => setFilter("worker_id", e.target.value)} onKeyDown={enter(setFilter, "worker_id")} />
        </label>
        {isAdmin && (
          <label>
            Owner (user id)
            <input defaultValue={params.get("user_id") ?? ""} onBlur={(e) => setFilter("user_id", e.target.value)} onKeyDown={enter(setFilter, "user_id")} />
          </label>
        )}
        <label>
          Since
          <input type="datetime-local" value={params.get("since") ?? ""} onChange={(e) => setFilter("since", e.target.value)} />
        </label>
      </form>
      {actionError && <ErrorBox error={actionError} />}
      <div aria-busy={page.loading} data-testid="task-page" data-ready={!page.loading}>
      {page.error ? (
        <ErrorBox error={page.error} retry={page.reload} />
      ) : page.data === undefined ? (
        <Loading what="Loading tasks" />
      ) : page.data.tasks.length === 0 ? (
        <p className="state empty">{key ? "No task matches these filters." : "No tasks yet. Submit one from the Submit page."}</p>
      ) : (
        <TaskTable tasks={page.data.tasks} search={search} onCancel={(t) => void cancel(t)} showOwner={isAdmin} />
      )}
      </div>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          ← Newer
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          disabled={!page.data?.next_cursor}
          onClick={() => page.data?.next_cursor && setCursors((c) => [...c, page.data!.next_cursor!])}
        >
          Older →
        </button>
      </nav>
    </>
  );
}

function enter(set: (name: string, value: string) => void, name: string) {
  return (e: React.KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter") set(name, e.currentTarget.value);
  };
}
