import { describe, expect, it } from "vitest";
import { applyTelemetry, HISTORY, seedHistory } from "../telemetry";

const worker = (id: string, cpu: number) => ({
  worker_id: id, cpu_usage: cpu, memory_usage: 10, gpu_usage: 0, running_tasks: [], running_tasks_count: 0,
  last_update: 0, status: "active", eligibility: "open",
});
const empty = { workers: {}, history: {}, updates: 0 };

describe("telemetry", () => {
  it("keeps a snapshot, then each update's worker, with a bounded history per worker", () => {
    let t = applyTelemetry(empty, { type: "telemetry", snapshot: true, workers: { a: worker("a", 1), b: worker("b", 2) } });
    t = applyTelemetry(t, { type: "telemetry", snapshot: false, workers: { a: worker("a", 5) } });
    expect(Object.keys(t.workers).sort()).toEqual(["a", "b"]);
    expect(t.history.a.cpu).toEqual([1, 5]);
    expect(t.history.b.cpu).toEqual([2]);
    for (let i = 0; i < HISTORY + 10; i++) {
      t = applyTelemetry(t, { type: "telemetry", snapshot: false, workers: { a: worker("a", i) } });
    }
    expect(t.history.a.cpu).toHaveLength(HISTORY);
    expect(t.history.a.cpu[HISTORY - 1]).toBe(HISTORY + 9);
    expect(applyTelemetry(t, { type: "connected" })).toBe(t);
  });

  it("puts a worker's recent samples before its live points", () => {
    const t = applyTelemetry(empty, { type: "telemetry", snapshot: true, workers: { a: worker("a", 9) } });
    const s = seedHistory(t, "a", [{ at: "", cpu: 3, memory: 1, storage: 0, gpu: 0 }]);
    expect(s.history.a.cpu).toEqual([3, 9]);
  });
});
