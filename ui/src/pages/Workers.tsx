import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { admin, api, ok, type Worker } from "../api/client";
import { useAuth } from "../auth";
import { Bar } from "../components/Chart";
import { ErrorBox, Guard, StatusBadge, fmtTime } from "../components/States";
import { useAsync, useInterval } from "../hooks";
import { useTelemetry } from "../telemetry";
import { WorkerCharts } from "./Overview";

type Action = "drain" | "cordon" | "open" | "remove";

async function workerAction(id: string, action: Action): Promise<string> {
  if (action === "remove") {
    const r = await admin.removeWorker(id);
    return `${id}: ${r.state}`;
  }
  const path = { params: { path: { worker_id: id } } };
  if (action === "drain") await ok(api.POST("/api/admin/workers/{worker_id}/drain", path));
  else if (action === "cordon") await ok(api.POST("/api/admin/workers/{worker_id}/cordon", path));
  else await ok(api.POST("/api/admin/workers/{worker_id}/open", path));
  return `${id}: ${action === "open" ? "opened" : action === "drain" ? "draining" : "cordoned"}`;
}

export function WorkersPage() {
  const { isAdmin } = useAuth();
  const workers = useAsync(() => ok(api.GET("/api/workers")), []);
  const { workers: live } = useTelemetry();
  useInterval(workers.reload, 5000);
  const [note, setNote] = useState<string>();
  const [error, setError] = useState<Error>();
  async function act(id: string, action: Action) {
    setError(undefined);
    if (action === "remove" && !window.confirm(`Remove worker ${id}? Its running tasks finish first.`)) return;
    try {
      setNote(await workerAction(id, action));
      workers.reload();
    } catch (e) {
      setError(e as Error);
    }
  }
  return (
    <>
      <h1>Workers</h1>
      {isAdmin && <RegisterWorker onDone={(text) => (setNote(text), workers.reload())} />}
      {note && (
        <p className="state ok" role="status">
          {note}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      <Guard {...workers} retry={workers.reload} empty={(w) => w.workers.length === 0} emptyText="No worker has registered yet.">
        {(w) => (
          <div className="table-wrap">
            <table className="workers">
              <thead>
                <tr>
                  <th scope="col">Worker</th>
                  <th scope="col">State</th>
                  <th scope="col" className="hide-sm">CPU use</th>
                  <th scope="col" className="hide-sm">Memory use</th>
                  <th scope="col" className="hide-sm">Free</th>
                  <th scope="col" className="hide-sm">Tasks</th>
                  <th scope="col" className="hide-sm">Heartbeat</th>
                  {isAdmin && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {w.workers.map((wk) => (
                  <WorkerRow key={wk.worker_id} w={wk} live={live[wk.worker_id]} isAdmin={isAdmin} act={act} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Guard>
      <WorkerCharts />
    </>
  );
}

function WorkerRow({
  w,
  live,
  isAdmin,
  act,
}: {
  w: Worker;
  live?: { cpu_usage: number; memory_usage: number; running_tasks_count: number; status: string; eligibility: string };
  isAdmin: boolean;
  act: (id: string, a: Action) => void;
}) {
  const status = live?.status ?? w.status;
  const eligibility = live?.eligibility ?? w.eligibility;
  const a = w.available_resources;
  return (
    <tr data-worker={w.worker_id}>
      <td>
        <Link to={`/cluster/workers/${encodeURIComponent(w.worker_id)}`}>{w.worker_id}</Link>
        <div className="sub mono">{w.address}</div>
      </td>
      <td>
        <StatusBadge status={status} />
        {eligibility !== "open" && (
          <div>
            <StatusBadge status={eligibility} />
          </div>
        )}
      </td>
      <td className="hide-sm">{Math.round(live?.cpu_usage ?? w.usage.cpu)}%</td>
      <td className="hide-sm">{Math.round(live?.memory_usage ?? w.usage.memory)}%</td>
      <td className="hide-sm">
        {a.cpu} CPU · {a.memory.toFixed(1)} GiB · {a.gpu} GPU
      </td>
      <td className="hide-sm">{live?.running_tasks_count ?? w.running_tasks_count}</td>
      <td className="hide-sm">{fmtTime(w.last_heartbeat)}</td>
      {isAdmin && (
        <td className="actions">
          {eligibility === "open" ? (
            <>
              <button type="button" className="small" onClick={() => act(w.worker_id, "drain")} aria-label={`Drain ${w.worker_id}`}>
                Drain
              </button>
              <button type="button" className="small" onClick={() => act(w.worker_id, "cordon")} aria-label={`Cordon ${w.worker_id}`}>
                Cordon
              </button>
            </>
          ) : (
            <button type="button" className="small" onClick={() => act(w.worker_id, "open")} aria-label={`Open ${w.worker_id}`}>
              Open
            </button>
          )}
          <button type="button" className="small danger" onClick={() => act(w.worker_id, "remove")} aria-label={`Remove ${w.worker_id}`}>
            Remove
          </button>
        </td>
      )}
    </tr>
  );
}

function RegisterWorker({ onDone }: { onDone: (text: string) => void }) {
  const [address, setAddress] = useState("");
  const [id, setId] = useState("");
  const [error, setError] = useState<Error>();
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    if (!/^[^\s:]+:\d{1,5}$/.test(address.trim())) {
      setError(new Error("Give the worker's address as host:port."));
      return;
    }
    try {
      const r = await admin.registerWorker(address.trim(), id.trim() || undefined);
      onDone(`Worker ${r.worker_id} at ${r.address}: ${r.state}`);
      setAddress("");
      setId("");
    } catch (err) {
      setError(err as Error);
    }
  }
  return (
    <details className="panel">
      <summary>Register a worker</summary>
      <form className="form inline-form" onSubmit={(e) => void submit(e)}>
        <label>
          Address (host:port)
          <input value={address} onChange={(e) => setAddress(e.target.value)} placeholder="10.0.0.7:50052" required />
        </label>
        <label>
          Worker id (optional)
          <input value={id} onChange={(e) => setId(e.target.value)} />
        </label>
        <button type="submit" className="primary">
          Register
        </button>
      </form>
      {error && <ErrorBox error={error} />}
    </details>
  );
}

export function WorkerDetailPage() {
  const { workerId = "" } = useParams();
  const worker = useAsync(() => ok(api.GET("/api/workers/{worker_id}", { params: { path: { worker_id: workerId } } })), [workerId]);
  useInterval(worker.reload, 5000);
  return (
    <>
      <p className="crumbs">
        <Link to="/cluster/workers">Workers</Link> / <span className="mono">{workerId}</span>
      </p>
      <Guard {...worker} retry={worker.reload}>
        {(w) => (
          <>
            <div className="title-row">
              <h1>{w.worker_id}</h1>
              <StatusBadge status={w.status} />
              {w.eligibility !== "open" && <StatusBadge status={w.eligibility} />}
            </div>
            <div className="grid2">
              <section className="panel">
                <h2>Allocation</h2>
                <Bar label="CPU" used={w.allocated_resources.cpu} total={w.total_resources.cpu} unit="cores" />
                <Bar label="Memory" used={w.allocated_resources.memory} total={w.total_resources.memory} unit="GiB" />
                <Bar label="Storage" used={w.allocated_resources.storage} total={w.total_resources.storage} unit="GiB" />
                <Bar label="GPU" used={w.allocated_resources.gpu} total={w.total_resources.gpu} unit="GPUs" />
                <p className="sub">
                  {w.address} · registered {fmtTime(w.registered_at)} · heartbeat {fmtTime(w.last_heartbeat)}
                </p>
              </section>
              <section className="panel">
                <h2>Running tasks</h2>
                {w.tasks.length === 0 ? (
                  <p className="state empty">Nothing runs here{w.running_tasks_count ? " that you can see" : ""}.</p>
                ) : (
                  <ul className="plain">
                    {w.tasks.map((t) => (
                      <li key={t.task_id}>
                        <Link to={`/tasks/${encodeURIComponent(t.task_id)}`}>{t.name || t.task_id}</Link> <StatusBadge status={t.status} />{" "}
                        <span className="sub">
                          {t.request.cpu} CPU · {t.request.memory} GiB
                        </span>
                      </li>
                    ))}
                  </ul>
                )}
              </section>
            </div>
          </>
        )}
      </Guard>
      <WorkerCharts only={workerId} />
    </>
  );
}
