import { Link } from "react-router-dom";
import { api, ok, STATUSES } from "../api/client";
import { Bar, LineChart } from "../components/Chart";
import { Empty, Guard, pct } from "../components/States";
import { useAsync, useInterval } from "../hooks";
import { useTelemetry } from "../telemetry";

export function OverviewPage() {
  const stats = useAsync(() => ok(api.GET("/api/stats")), []);
  useInterval(stats.reload, 5000);
  return (
    <>
      <h1>Overview</h1>
      <Guard {...stats} retry={stats.reload}>
        {(s) => {
          const r = s.resources;
          const tasks = s.tasks as Record<string, number>;
          const workers = s.workers as Record<string, number>;
          const total = Object.values(tasks).reduce((a, b) => a + b, 0);
          const sla = Object.entries(s.sla.by_type);
          return (
            <>
              <section className="cards" aria-label="Cluster totals">
                <Stat label="Workers" value={Object.values(workers).reduce((a, b) => a + b, 0)} hint={fmtMap(workers)} />
                <Stat label="Tasks" value={total} hint={`${tasks.running ?? 0} running`} />
                <Stat label="Queue depth" value={s.queue_depth} hint={<Link to="/queue">see the queue</Link>} />
                <Stat label="CPU cores" value={r.total.cpu} hint={`${r.available.cpu} free`} />
              </section>
              <div className="grid2">
                <section className="panel">
                  <h2>Allocation</h2>
                  <Bar label="CPU" used={r.allocated.cpu} total={r.total.cpu} unit="cores" />
                  <Bar label="Memory" used={r.allocated.memory} total={r.total.memory} unit="GiB" />
                  <Bar label="Storage" used={r.allocated.storage} total={r.total.storage} unit="GiB" />
                  <Bar label="GPU" used={r.allocated.gpu} total={r.total.gpu} unit="GPUs" />
                </section>
                <section className="panel">
                  <h2>Tasks by status</h2>
                  <ul className="status-list">
                    {STATUSES.map((st) => (
                      <li key={st}>
                        <Link to={`/tasks?status=${st}`} className={`badge s-${st}`}>
                          {st}
                        </Link>
                        <span className="num">{tasks[st] ?? 0}</span>
                      </li>
                    ))}
                  </ul>
                </section>
              </div>
              <section className="panel">
                <h2>SLA hit rate by task type</h2>
                {sla.length === 0 ? (
                  <Empty>No task has finished with an SLA yet.</Empty>
                ) : (
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Type</th>
                        <th scope="col">Met</th>
                        <th scope="col">Finished</th>
                        <th scope="col">Hit rate</th>
                      </tr>
                    </thead>
                    <tbody>
                      {sla.map(([type, rate]) => (
                        <tr key={type}>
                          <td>{type}</td>
                          <td>{rate.met}</td>
                          <td>{rate.total}</td>
                          <td>
                            <Bar label={`${type} hit rate ${pct(rate.rate)}`} used={rate.met} total={rate.total} unit="" />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </section>
            </>
          );
        }}
      </Guard>
      <WorkerCharts />
    </>
  );
}

function fmtMap(m: Record<string, number>): string {
  return Object.entries(m)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${v} ${k}`)
    .join(", ") || "none";
}

function Stat({ label, value, hint }: { label: string; value: number; hint?: React.ReactNode }) {
  return (
    <div className="card">
      <div className="card-label">{label}</div>
      <div className="card-value">{value}</div>
      {hint && <div className="card-hint">{hint}</div>}
    </div>
  );
}

export function WorkerCharts({ only }: { only?: string }) {
  const { workers, history, state, updates } = useTelemetry();
  const ids = Object.keys(workers).filter((id) => !only || id === only).sort();
  return (
    <section className="panel" aria-label="Live worker use" data-updates={updates}>
      <h2>
        Live use per worker <span className={`live ${state}`}>{state === "open" ? "live" : state}</span>
      </h2>
      {ids.length === 0 ? (
        state === "open" ? (
          <Empty>No worker has registered yet.</Empty>
        ) : (
          <p className="state loading">Waiting for telemetry…</p>
        )
      ) : (
        <div className="charts">
          {ids.map((id) => {
            const h = history[id] ?? { cpu: [], memory: [], gpu: [] };
            return (
              <div key={id} className="worker-chart" data-worker={id}>
                <h3>
                  <Link to={`/cluster/workers/${encodeURIComponent(id)}`}>{id}</Link>
                </h3>
                <LineChart
                  label={`${id} use`}
                  series={[
                    { name: "CPU", values: h.cpu, color: "var(--c-cpu)" },
                    { name: "Mem", values: h.memory, color: "var(--c-mem)" },
                    { name: "GPU", values: h.gpu, color: "var(--c-gpu)" },
                  ]}
                />
              </div>
            );
          })}
        </div>
      )}
    </section>
  );
}
