// The dashboard's API client: openapi-fetch over the generated types (schema.ts), same
// origin, the session cookie as the credential. Errors become ApiError with the
// server's own message.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Task = Schemas["TaskOut"];
export type TaskDetail = Schemas["TaskDetailOut"];
export type TaskStatus = Schemas["TaskStatus"];
export type TaskIn = Schemas["TaskIn"];
export type Worker = Schemas["WorkerOut"];
export type Stats = Schemas["StatsOut"];
export type QueueEntry = Schemas["QueueEntryOut"];
export type User = Schemas["UserOut"];
export type FileEntry = Schemas["FileOut"];
export type Resources = Schemas["ResourcesOut"];
export type Sample = Schemas["SampleOut"];

export const TASK_TYPES = [
  "cpu-light",
  "cpu-heavy",
  "memory-heavy",
  "gpu-inference",
  "gpu-training",
  "mixed",
] as const;

export const STATUSES: TaskStatus[] = [
  "queued",
  "assigned",
  "running",
  "completed",
  "failed",
  "cancelled",
];

export const FINAL: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);

/** Dispatched on window when a call answers 401: the session ended (the app shows login). */
export const UNAUTHORIZED = "cloudai:unauthorized";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of an openapi-fetch answer, or an ApiError with the server's message. */
export async function ok<T>(call: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await call;
  } catch (e) {
    throw new ApiError(0, `cannot reach the master: ${String(e)}`);
  }
  if (answer.response.ok && answer.data !== undefined) return answer.data;
  if (answer.response.ok) return undefined as T; // 204
  if (answer.response.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED));
  throw toError(answer.response.status, answer.error);
}

export function toError(status: number, body: unknown): ApiError {
  const b = (body ?? {}) as { message?: string; detail?: string; errors?: unknown };
  const fields = Array.isArray(b.errors) ? (b.errors as { field: string; message: string }[]) : [];
  const text = b.message || b.detail || `the master answered ${status}`;
  return new ApiError(status, text, fields);
}

// Admin calls of the API contract.
export type AdminUser = Schemas["AdminUserOut"];
export const admin = {
  users: () => ok(api.GET("/api/admin/users")),
  patchUser: (user_id: string, change: Schemas["UserPatchIn"]) =>
    ok(api.PATCH("/api/admin/users/{user_id}", { params: { path: { user_id } }, body: change })),
  registerWorker: (address: string, worker_id?: string) =>
    ok(api.POST("/api/workers", { body: { address, ...(worker_id ? { worker_id } : {}) } })),
  removeWorker: (worker_id: string) =>
    ok(api.DELETE("/api/workers/{worker_id}", { params: { path: { worker_id } } })),
};

export function downloadUrl(taskId: string, path: string): string {
  const parts = path.split("/").map(encodeURIComponent).join("/");
  return `/api/files/${encodeURIComponent(taskId)}/download/${parts}`;
}

export function wsUrl(path: string): string {
  const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${window.location.host}${path}`;
}
