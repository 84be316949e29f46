// One /ws/telemetry connection for the whole app: each worker's latest state and a
// bounded history of its CPU, memory and GPU use for the charts.
import { createContext, useContext, useRef, useState, type ReactNode } from "react";
import { api, ok, type Sample } from "./api/client";
import { useSocket, type SocketState } from "./hooks";

export const HISTORY = 60;

export type HeldTask = { task_id: string; status: string; cpu_allocated: number; memory_allocated: number; gpu_allocated: number };
export type WorkerTelemetry = {
  worker_id: string;
  cpu_usage: number;
  memory_usage: number;
  gpu_usage: number;
  running_tasks: HeldTask[];
  running_tasks_count: number;
  last_update: number;
  status: string;
  eligibility: string;
};
export type History = { cpu: number[]; memory: number[]; gpu: number[] };
type Telemetry = {
  workers: Record<string, WorkerTelemetry>;
  history: Record<string, History>;
  updates: number;
  state: SocketState;
};

const TelemetryContext = createContext<Telemetry>({ workers: {}, history: {}, updates: 0, state: "connecting" });

function push(values: number[], v: number): number[] {
  const next = [...values, v];
  return next.length > HISTORY ? next.slice(next.length - HISTORY) : next;
}

export function applyTelemetry(t: Omit<Telemetry, "state">, message: Record<string, unknown>): Omit<Telemetry, "state"> {
  if (message.type !== "telemetry" || typeof message.workers !== "object" || message.workers === null) return t;
  const incoming = message.workers as Record<string, WorkerTelemetry>;
  const workers = message.snapshot ? { ...incoming } : { ...t.workers, ...incoming };
  const history = { ...t.history };
  for (const [id, w] of Object.entries(incoming)) {
    const h = history[id] ?? { cpu: [], memory: [], gpu: [] };
    history[id] = { cpu: push(h.cpu, w.cpu_usage), memory: push(h.memory, w.memory_usage), gpu: push(h.gpu, w.gpu_usage) };
  }
  return { workers, history, updates: t.updates + 1 };
}

/** `t` with `samples` (older, from /api/workers/{id}/metrics) before what it has. */
export function seedHistory(t: Omit<Telemetry, "state">, id: string, samples: Sample[]): Omit<Telemetry, "state"> {
  const h = t.history[id] ?? { cpu: [], memory: [], gpu: [] };
  const cut = (v: number[]) => v.slice(Math.max(0, v.length - HISTORY));
  const seeded = {
    cpu: cut([...samples.map((s) => s.cpu), ...h.cpu]),
    memory: cut([...samples.map((s) => s.memory), ...h.memory]),
    gpu: cut([...samples.map((s) => s.gpu), ...h.gpu]),
  };
  return { ...t, history: { ...t.history, [id]: seeded } };
}

export function TelemetryProvider({ children }: { children: ReactNode }) {
  const [t, setT] = useState<Omit<Telemetry, "state">>({ workers: {}, history: {}, updates: 0 });
  const seeded = useRef(new Set<string>());
  const state = useSocket(
    () => "/ws/telemetry",
    (message) => {
      setT((current) => applyTelemetry(current, message));
      const incoming = (message.workers ?? {}) as Record<string, unknown>;
      for (const id of Object.keys(incoming)) {
        if (seeded.current.has(id)) continue;
        seeded.current.add(id);
        ok(api.GET("/api/workers/{worker_id}/metrics", { params: { path: { worker_id: id } } })).then(
          (m) => setT((current) => seedHistory(current, id, m.samples.slice(0, -1))),
          () => undefined, // no history: the live points still come
        );
      }
    },
  );
  return <TelemetryContext.Provider value={{ ...t, state }}>{children}</TelemetryContext.Provider>;
}

export function useTelemetry(): Telemetry {
  return useContext(TelemetryContext);
}
