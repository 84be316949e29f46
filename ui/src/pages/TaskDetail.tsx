import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, downloadUrl, FINAL, ok, type TaskDetail, type TaskIn } from "../api/client";
import { LogViewer } from "../components/LogViewer";
import { Empty, ErrorBox, Guard, StatusBadge, fmtBytes, fmtTime } from "../components/States";
import { useAsync, useSocket } from "../hooks";

export function TaskDetailPage() {
  const { taskId = "" } = useParams();
  const task = useAsync(() => ok(api.GET("/api/tasks/{task_id}", { params: { path: { task_id: taskId } } })), [taskId]);
  useSocket(
    () => "/ws/events",
    (m) => {
      if (m.type === "task" && m.task_id === taskId) task.reload();
    },
  );
  return (
    <>
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> / <span className="mono">{taskId}</span>
      </p>
      <Guard {...task} retry={task.reload}>
        {(t) => <Detail task={t} reload={task.reload} />}
      </Guard>
      <LogViewer key={taskId} taskId={taskId} onComplete={task.reload} waiting={task.data?.status === "queued"} />
      {task.data && FINAL.has(task.data.status) && <Files taskId={taskId} />}
    </>
  );
}

export function rerunBody(t: TaskDetail): TaskIn {
  return {
    docker_image: t.docker_image,
    command: t.command,
    cpu_required: t.cpu_required,
    memory_required: t.memory_required,
    storage_required: t.storage_required,
    gpu_required: t.gpu_required,
    tag: t.tag,
    k_value: t.k_value,
    name: t.name,
    task_type: t.task_type,
    priority: t.priority,
    max_retries: t.max_retries,
    timeout_seconds: t.timeout_seconds,
    env: t.env,
    target_worker_id: t.target_worker_id,
  };
}

function Detail({ task: t, reload }: { task: TaskDetail; reload: () => void }) {
  const navigate = useNavigate();
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  async function act(fn: () => Promise<void>) {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  }
  const cancel = () =>
    act(async () => {
      await ok(api.DELETE("/api/tasks/{task_id}", { params: { path: { task_id: t.task_id } } }));
      reload();
    });
  const purge = () =>
    act(async () => {
      if (!window.confirm(`Delete ${t.name || t.task_id} with its log and output files?`)) return;
      await ok(api.DELETE("/api/tasks/{task_id}", { params: { path: { task_id: t.task_id }, query: { purge: true } } }));
      navigate("/tasks");
    });
  const again = () =>
    act(async () => {
      const made = await ok(api.POST("/api/tasks", { body: rerunBody(t) }));
      navigate(`/tasks/${encodeURIComponent(made.task_id)}`);
    });
  const command = Array.isArray(t.command) ? JSON.stringify(t.command) : (t.command ?? "(image default)");
  return (
    <>
      <div className="title-row">
        <h1>{t.name || t.task_id}</h1>
        <StatusBadge status={t.status} />
        <div className="actions">
          {!FINAL.has(t.status) && (
            <button type="button" className="danger" disabled={busy} onClick={() => void cancel()}>
              Cancel task
            </button>
          )}
          <button type="button" disabled={busy} onClick={() => void again()}>
            Run again
          </button>
          {FINAL.has(t.status) && (
            <button type="button" className="danger" disabled={busy} onClick={() => void purge()}>
              Delete
            </button>
          )}
        </div>
      </div>
      {error && <ErrorBox error={error} />}
      {t.status === "queued" && (
        <div className="callout" data-testid="pending">
          <strong>Waiting{t.queue_position != null ? ` · position ${t.queue_position} in the queue` : ""}.</strong>{" "}
          {t.pending_reason ?? "It waits for a scheduling pass."}
        </div>
      )}
      <dl className="facts">
        <Fact k="Image" v={<span className="mono">{t.docker_image}</span>} />
        <Fact k="Command" v={<code>{command}</code>} />
        <Fact k="Type" v={`${t.task_type}${t.tag && t.tag !== t.task_type ? ` (tag ${t.tag})` : ""}`} />
        <Fact k="Request" v={`${t.cpu_required} CPU · ${t.memory_required} GiB · ${t.storage_required} GiB disk · ${t.gpu_required} GPU`} />
        <Fact k="k · deadline" v={`${t.k_value} · ${fmtTime(t.deadline)}${t.sla_met == null ? "" : t.sla_met ? " (met)" : " (missed)"}`} />
        <Fact k="Priority" v={t.priority} />
        <Fact k="Retries" v={`${t.retries} of ${t.max_retries}`} />
        <Fact k="Timeout" v={t.timeout_seconds ? `${t.timeout_seconds} s` : "none"} />
        <Fact k="Worker" v={t.worker_id ? <Link to={`/cluster/workers/${encodeURIComponent(t.worker_id)}`}>{t.worker_id}</Link> : "—"} />
        <Fact k="Exit code" v={t.exit_code ?? "—"} />
        <Fact k="Reason" v={t.reason || "—"} />
        <Fact k="Owner" v={<span className="mono">{t.user_id}</span>} />
        <Fact k="Created" v={fmtTime(t.created_at)} />
        <Fact k="Finished" v={fmtTime(t.finished_at)} />
      </dl>
      <div className="grid2">
        <section className="panel">
          <h2>Attempts</h2>
          {t.attempts.length === 0 ? (
            <Empty>Not placed yet.</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col" className="hide-sm">Worker</th>
                    <th scope="col">Status</th>
                    <th scope="col">Exit</th>
                    <th scope="col">Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {t.attempts.map((a) => (
                    <tr key={a.epoch}>
                      <td>{a.epoch}</td>
                      <td className="mono hide-sm">{a.worker_id}</td>
                      <td>
                        <StatusBadge status={a.status} />
                        {a.oom_killed && <span className="badge s-failed">OOM</span>}
                      </td>
                      <td>{a.exit_code ?? "—"}</td>
                      <td className="reason">{a.reason || "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section className="panel">
          <h2>Events</h2>
          <ol className="events">
            {t.events.map((e, i) => (
              <li key={i}>
                <time>{fmtTime(e.at)}</time> {e.from_status ? `${e.from_status} → ` : ""}
                <StatusBadge status={e.to_status} /> {e.reason}
              </li>
            ))}
          </ol>
        </section>
      </div>
    </>
  );
}

function Fact({ k, v }: { k: string; v: React.ReactNode }) {
  return (
    <div>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </div>
  );
}

function Files({ taskId }: { taskId: string }) {
  const files = useAsync(() => ok(api.GET("/api/files/{task_id}", { params: { path: { task_id: taskId } } })), [taskId]);
  return (
    <section className="panel" aria-label="Output files">
      <h2>Output files</h2>
      <Guard {...files} retry={files.reload} empty={(f) => f.files.length === 0} emptyText="The task wrote no files under /output.">
        {(f) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Path</th>
                  <th scope="col">Size</th>
                  <th scope="col" className="hide-sm">SHA-256</th>
                  <th scope="col">
                    <span className="sr-only">Download</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {f.files.map((file) => (
                  <tr key={file.path}>
                    <td className="mono">
                      {file.path}
                      <div className="sub show-sm" title={file.sha256}>
                        sha256 {file.sha256.slice(0, 12)}…
                      </div>
                    </td>
                    <td>{fmtBytes(file.size)}</td>
                    <td className="mono hash hide-sm" title={file.sha256}>
                      {file.sha256.slice(0, 16)}…
                    </td>
                    <td>
                      <a href={downloadUrl(taskId, file.path)} download aria-label={`Download ${file.path}`}>
                        Download
                      </a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Guard>
    </section>
  );
}
