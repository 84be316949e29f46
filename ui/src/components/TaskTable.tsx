import { Link } from "react-router-dom";
import { FINAL, type Task } from "../api/client";
import { StatusBadge, fmtTime } from "./States";

export function matches(task: Task, search: string): boolean {
  const q = search.trim().toLowerCase();
  if (!q) return true;
  return [task.task_id, task.name, task.docker_image, task.tag, task.task_type, task.worker_id ?? "", task.user_id]
    .join(" ")
    .toLowerCase()
    .includes(q);
}

export function TaskTable({
  tasks,
  search = "",
  onCancel,
  showOwner = false,
}: {
  tasks: Task[];
  search?: string;
  onCancel?: (task: Task) => void;
  showOwner?: boolean;
}) {
  const shown = tasks.filter((t) => matches(t, search));
  if (shown.length === 0) return <p className="state empty">No task matches.</p>;
  return (
    <div className="table-wrap">
      <table className="tasks">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Status</th>
            <th scope="col" className="hide-sm">Type</th>
            <th scope="col" className="hide-sm">Image</th>
            <th scope="col" className="hide-sm">Worker</th>
            {showOwner && <th scope="col" className="hide-sm">Owner</th>}
            <th scope="col" className="hide-sm">Created</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map((t) => (
            <tr key={t.task_id} data-task={t.task_id}>
              <td>
                <Link to={`/tasks/${encodeURIComponent(t.task_id)}`}>{t.name || t.task_id}</Link>
                {t.name && <div className="sub mono">{t.task_id}</div>}
              </td>
              <td>
                <StatusBadge status={t.status} />
                {t.status === "queued" && t.pending_reason && <div className="sub">{t.pending_reason}</div>}
              </td>
              <td className="hide-sm">{t.task_type}</td>
              <td className="hide-sm mono">{t.docker_image}</td>
              <td className="hide-sm mono">{t.worker_id ?? "—"}</td>
              {showOwner && <td className="hide-sm mono">{t.user_id}</td>}
              <td className="hide-sm">{fmtTime(t.created_at)}</td>
              <td>
                {onCancel && !FINAL.has(t.status) && (
                  <button type="button" className="danger small" onClick={() => onCancel(t)} aria-label={`Cancel ${t.name || t.task_id}`}>
                    Cancel
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
