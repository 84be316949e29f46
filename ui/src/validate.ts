// Client-side checks of the submit form, the same bounds as the API's TaskIn.
import type { Resources, TaskIn } from "./api/client";

export type Form = {
  name: string;
  image: string;
  command: string;
  cpu: string;
  memory: string;
  storage: string;
  gpu: string;
  taskType: string; // "" : inferred by the master
  tag: string;
  k: string;
  priority: string;
  timeout: string; // "" : none
  retries: string;
  target: string; // "" : any worker
};

export const DEFAULTS: Form = {
  name: "",
  image: "",
  command: "",
  cpu: "1",
  memory: "0.5",
  storage: "1",
  gpu: "0",
  taskType: "",
  tag: "",
  k: "2.0",
  priority: "0",
  timeout: "",
  retries: "0",
  target: "",
};

export type Errors = Partial<Record<keyof Form, string>>;

function num(v: string): number {
  return v.trim() === "" ? Number.NaN : Number(v);
}

export function validate(f: Form): Errors {
  const e: Errors = {};
  if (!f.image.trim()) e.image = "Give a Docker image, e.g. cloudai-test:latest.";
  else if (/\s/.test(f.image.trim())) e.image = "An image name has no spaces.";
  const cpu = num(f.cpu);
  if (!(cpu > 0 && cpu <= 1024)) e.cpu = "CPU: more than 0, at most 1024 cores.";
  const memory = num(f.memory);
  if (!(memory > 0 && memory <= 65536)) e.memory = "Memory: more than 0, at most 65536 GiB.";
  const storage = num(f.storage);
  if (!(storage >= 0 && storage <= 1_000_000)) e.storage = "Storage: 0 to 1,000,000 GiB.";
  const gpu = num(f.gpu);
  if (!(Number.isInteger(gpu) && gpu >= 0 && gpu <= 64)) e.gpu = "GPUs: a whole number from 0 to 64.";
  const k = num(f.k);
  if (!(k >= 1.5 && k <= 2.5)) e.k = "k must be between 1.5 and 2.5.";
  const priority = num(f.priority);
  if (!(Number.isInteger(priority) && priority >= -1000 && priority <= 1000)) e.priority = "Priority: a whole number from -1000 to 1000.";
  const retries = num(f.retries);
  if (!(Number.isInteger(retries) && retries >= 0 && retries <= 100)) e.retries = "Retries: a whole number from 0 to 100.";
  if (f.timeout.trim()) {
    const t = num(f.timeout);
    if (!(t > 0 && t <= 30 * 24 * 3600)) e.timeout = "Timeout: more than 0 seconds, at most 30 days.";
  }
  if (f.name.length > 200) e.name = "A name has at most 200 characters.";
  if (f.tag.length > 64) e.tag = "A tag has at most 64 characters.";
  return e;
}

export function toTaskIn(f: Form): TaskIn {
  const body: TaskIn = {
    docker_image: f.image.trim(),
    command: f.command.trim() ? f.command : null,
    cpu_required: Number(f.cpu),
    memory_required: Number(f.memory),
    storage_required: Number(f.storage),
    gpu_required: Number(f.gpu),
    k_value: Number(f.k),
    priority: Number(f.priority),
    max_retries: Number(f.retries),
    name: f.name.trim(),
    tag: f.tag.trim() || f.taskType,
    task_type: f.taskType,
  };
  if (f.timeout.trim()) body.timeout_seconds = Number(f.timeout);
  if (f.target) body.target_worker_id = f.target;
  return body;
}

/** Why no registered worker could ever run this request, or null if one could. */
export function neverFits(f: Form, totals: Resources[]): string | null {
  if (totals.length === 0) return "No worker is registered yet: the task will wait for one.";
  const cpu = Number(f.cpu);
  const memory = Number(f.memory);
  const storage = Number(f.storage);
  const gpu = Number(f.gpu);
  const fits = totals.some((t) => t.cpu >= cpu && t.memory >= memory && t.storage >= storage && t.gpu >= gpu);
  if (fits) return null;
  const most = (k: keyof Resources) => Math.max(...totals.map((t) => t[k]));
  return `No registered worker could ever fit this (the largest has ${most("cpu")} CPU, ${most("memory").toFixed(1)} GiB memory, ${most("storage").toFixed(0)} GiB storage, ${most("gpu")} GPU): it will wait in the queue until one joins.`;
}
