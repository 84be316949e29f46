import { Link } from "react-router-dom";
import { api, ok } from "../api/client";
import { Guard, fmtTime } from "../components/States";
import { useAsync, useInterval, useSocket } from "../hooks";

export function QueuePage() {
  const queue = useAsync(() => ok(api.GET("/api/queue")), []);
  useInterval(queue.reload, 5000);
  useSocket(
    () => "/ws/events",
    (m) => {
      if (m.type === "task") queue.reload();
    },
  );
  return (
    <>
      <h1>Queue</h1>
      <Guard {...queue} retry={queue.reload} empty={(q) => q.tasks.length === 0} emptyText="The queue is empty: every task has a worker.">
        {(q) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Task</th>
                  <th scope="col">Priority</th>
                  <th scope="col" className="hide-sm">Type</th>
                  <th scope="col" className="hide-sm">Asks</th>
                  <th scope="col" className="hide-sm">Owner</th>
                  <th scope="col">Why it waits</th>
                  <th scope="col" className="hide-sm">Queued</th>
                </tr>
              </thead>
              <tbody>
                {q.tasks.map((e) => (
                  <tr key={e.task_id} data-task={e.task_id}>
                    <td>{e.position ?? "—"}</td>
                    <td>
                      <Link to={`/tasks/${encodeURIComponent(e.task_id)}`}>{e.name || e.task_id}</Link>
                    </td>
                    <td>{e.priority}</td>
                    <td className="hide-sm">{e.task_type}</td>
                    <td className="hide-sm">
                      {e.request.cpu} CPU · {e.request.memory} GiB · {e.request.gpu} GPU
                    </td>
                    <td className="hide-sm mono">{e.user_id}</td>
                    <td className="reason">
                      {e.pending_reason ?? "waiting for a scheduling pass"}
                      {e.target_worker_id && <div className="sub">target {e.target_worker_id}</div>}
                    </td>
                    <td className="hide-sm">{fmtTime(e.queued_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Guard>
    </>
  );
}
