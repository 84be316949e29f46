import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api, ok, TASK_TYPES, type ApiError, type Schemas } from "../api/client";
import { DEFAULTS, neverFits, toTaskIn, validate, type Errors, type Form } from "../validate";
import { useAsync } from "../hooks";

type Done = Schemas["SubmitOut"];

export function SubmitPage() {
  const workers = useAsync(() => ok(api.GET("/api/workers")), []);
  const totals = workers.data?.workers.map((w) => w.total_resources);
  return <SubmitForm totals={totals} workerIds={workers.data?.workers.map((w) => w.worker_id) ?? []} submit={(body) => ok(api.POST("/api/tasks", { body }))} />;
}

export function SubmitForm({
  totals,
  workerIds,
  submit,
}: {
  totals: Schemas["ResourcesOut"][] | undefined;
  workerIds: string[];
  submit: (body: ReturnType<typeof toTaskIn>) => Promise<Done>;
}) {
  const [form, setForm] = useState<Form>(DEFAULTS);
  const [errors, setErrors] = useState<Errors>({});
  const [serverError, setServerError] = useState<string>();
  const [done, setDone] = useState<Done>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof Form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const fitWarning = totals && Object.keys(validate(form)).length === 0 ? neverFits(form, totals) : null;

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    const found = validate(form);
    setErrors(found);
    setServerError(undefined);
    setDone(undefined);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      setDone(await submit(toTaskIn(form)));
    } catch (err) {
      const apiErr = err as ApiError;
      setServerError(apiErr.message);
      if (apiErr.fields?.length) {
        setErrors(Object.fromEntries(apiErr.fields.map((fe) => [fieldOf(fe.field), fe.message])));
      }
    } finally {
      setBusy(false);
    }
  }

  const field = (k: keyof Form, label: string, input: React.ReactNode, hint?: string) => (
    <div className={`field ${errors[k] ? "invalid" : ""}`}>
      <label htmlFor={`f-${k}`}>{label}</label>
      {input}
      {hint && !errors[k] && <small id={`h-${k}`}>{hint}</small>}
      {errors[k] && (
        <small className="error-text" id={`e-${k}`}>
          {errors[k]}
        </small>
      )}
    </div>
  );
  const described = (k: keyof Form) => (errors[k] ? `e-${k}` : `h-${k}`);
  const text = (k: keyof Form, extra: React.InputHTMLAttributes<HTMLInputElement> = {}) => (
    <input id={`f-${k}`} value={form[k]} onChange={set(k)} aria-invalid={!!errors[k]} aria-describedby={described(k)} {...extra} />
  );

  return (
    <>
      <h1>Submit a task</h1>
      <form className="form submit-form" onSubmit={(e) => void onSubmit(e)} noValidate>
        <div className="cols">
          {field("image", "Docker image", text("image", { placeholder: "e.g. cloudai-test:latest", required: true }))}
          {field("name", "Name (optional)", text("name"))}
        </div>
        {field(
          "command",
          "Command",
          <textarea id="f-command" rows={3} value={form.command} onChange={set("command")} aria-describedby={described("command")} placeholder="e.g. echo hello; echo 42 > /output/answer.txt" />,
          "Run with /bin/sh -c; files written under /output are kept. Empty: the image's default.",
        )}
        <fieldset>
          <legend>Resources</legend>
          <div className="cols4">
            {field("cpu", "CPU cores", text("cpu", { inputMode: "decimal" }))}
            {field("memory", "Memory (GiB)", text("memory", { inputMode: "decimal" }))}
            {field("storage", "Storage (GiB)", text("storage", { inputMode: "decimal" }))}
            {field("gpu", "GPUs", text("gpu", { inputMode: "numeric" }))}
          </div>
        </fieldset>
        <fieldset>
          <legend>Scheduling</legend>
          <div className="cols4">
            {field(
              "taskType",
              "Task type",
              <select id="f-taskType" value={form.taskType} onChange={set("taskType")} aria-describedby={described("taskType")}>
                <option value="">infer from the request</option>
                {TASK_TYPES.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>,
            )}
            {field(
              "k",
              `SLA k: ${Number(form.k).toFixed(1)}`,
              <input id="f-k" type="range" min={1.5} max={2.5} step={0.1} value={form.k} onChange={set("k")} aria-describedby={described("k")} />,
              "Deadline = k × the type's expected run time.",
            )}
            {field("priority", "Priority", text("priority", { inputMode: "numeric" }), "-1000 to 1000; higher runs first.")}
            {field("retries", "Retries", text("retries", { inputMode: "numeric" }))}
            {field("timeout", "Timeout (s)", text("timeout", { inputMode: "decimal", placeholder: "none" }))}
            {field("tag", "Tag (optional)", text("tag"), "Empty: the task type.")}
            {field(
              "target",
              "Target worker",
              <select id="f-target" value={form.target} onChange={set("target")} aria-describedby={described("target")}>
                <option value="">any worker</option>
                {workerIds.map((w) => (
                  <option key={w}>{w}</option>
                ))}
              </select>,
            )}
          </div>
        </fieldset>
        {fitWarning && (
          <p className="callout warn" role="status">
            {fitWarning}
          </p>
        )}
        {serverError && (
          <p className="state error" role="alert">
            The master refused the task: {serverError}
          </p>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Submitting…" : "Submit task"}
          </button>
          <button type="button" onClick={() => (setForm(DEFAULTS), setErrors({}), setDone(undefined), setServerError(undefined))}>
            Reset
          </button>
        </div>
      </form>
      {done && (
        <div className="callout ok" role="status" data-testid="submitted">
          <strong>{done.message}</strong> as <span className="badge s-queued">{done.task_type}</span>:{" "}
          <Link to={`/tasks/${encodeURIComponent(done.task_id)}`}>open {done.task_id}</Link>
          {done.warning && <p className="warn-text">{done.warning}</p>}
        </div>
      )}
    </>
  );
}

const FIELD_OF: Record<string, keyof Form> = {
  docker_image: "image",
  command: "command",
  cpu_required: "cpu",
  memory_required: "memory",
  storage_required: "storage",
  gpu_required: "gpu",
  k_value: "k",
  priority: "priority",
  max_retries: "retries",
  timeout_seconds: "timeout",
  target_worker_id: "target",
  name: "name",
  tag: "tag",
  task_type: "taskType",
};

function fieldOf(apiField: string): keyof Form {
  return FIELD_OF[apiField.split(".").pop() ?? ""] ?? "image";
}
