import { useState, type FormEvent } from "react";
import { admin, api, ok, type AdminUser } from "../api/client";
import { useAuth } from "../auth";
import { ErrorBox, Guard, fmtTime } from "../components/States";
import { useAsync } from "../hooks";

export function AdminPage() {
  const [created, setCreated] = useState(0);
  return (
    <>
      <h1>Admin</h1>
      <Scheduler />
      <Users key={created} />
      <CreateUser onCreated={() => setCreated((n) => n + 1)} />
    </>
  );
}

function Scheduler() {
  const current = useAsync(() => ok(api.GET("/api/admin/scheduler")), []);
  const [error, setError] = useState<Error>();
  async function choose(scheduler: string) {
    setError(undefined);
    try {
      current.set(await ok(api.PUT("/api/admin/scheduler", { body: { scheduler } })));
    } catch (e) {
      setError(e as Error);
    }
  }
  return (
    <section className="panel" aria-labelledby="sched-h">
      <h2 id="sched-h">Scheduler</h2>
      <Guard {...current} retry={current.reload}>
        {(s) => (
          <div className="form inline-form">
            <label>
              In use
              <select value={s.scheduler} onChange={(e) => void choose(e.target.value)}>
                {s.available.map((a) => (
                  <option key={a}>{a}</option>
                ))}
              </select>
            </label>
            <p className="sub">
              Now placing with <strong data-testid="scheduler">{s.scheduler}</strong>. A switch takes effect at the next scheduling pass.
            </p>
          </div>
        )}
      </Guard>
      {error && <ErrorBox error={error} />}
    </section>
  );
}

function Users() {
  const { user: me } = useAuth();
  const users = useAsync(() => admin.users(), []);
  const [error, setError] = useState<Error>();
  async function change(u: AdminUser, patch: { disabled?: boolean; is_admin?: boolean }) {
    setError(undefined);
    try {
      await admin.patchUser(u.id, patch);
      users.reload();
    } catch (e) {
      setError(e as Error);
    }
  }
  return (
    <section className="panel" aria-labelledby="users-h">
      <h2 id="users-h">Users</h2>
      {error && <ErrorBox error={error} />}
      <Guard {...users} retry={users.reload} empty={(u) => u.users.length === 0} emptyText="No users.">
        {(list) => (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" className="hide-sm">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">State</th>
                  <th scope="col" className="hide-sm">Since</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.users.map((u) => {
                  const self = u.id === me?.user_id;
                  return (
                    <tr key={u.id} data-user={u.email}>
                      <td>
                        {u.name}
                        {self && <span className="sub"> (you: an admin cannot disable or demote themselves)</span>}
                        <div className="sub mono show-sm">{u.email}</div>
                      </td>
                      <td className="mono hide-sm">{u.email}</td>
                      <td>{u.is_admin ? "admin" : "user"}</td>
                      <td>{u.disabled ? <span className="badge s-failed">disabled</span> : "active"}</td>
                      <td className="hide-sm">{fmtTime(u.created_at)}</td>
                      <td className="actions">
                        <button type="button" className="small" disabled={self} onClick={() => void change(u, { disabled: !u.disabled })}>
                          {u.disabled ? "Enable" : "Disable"}
                        </button>
                        <button type="button" className="small" disabled={self} onClick={() => void change(u, { is_admin: !u.is_admin })}>
                          {u.is_admin ? "Make user" : "Make admin"}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Guard>
    </section>
  );
}

function CreateUser({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [note, setNote] = useState<string>();
  const [error, setError] = useState<Error>();
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    setNote(undefined);
    try {
      const made = await ok(api.POST("/api/admin/users", { body: { name, email, password } }));
      setNote(`Created ${made.email}.`);
      onCreated();
      setName("");
      setEmail("");
      setPassword("");
    } catch (err) {
      setError(err as Error);
    }
  }
  return (
    <section className="panel" aria-labelledby="new-user-h">
      <h2 id="new-user-h">Create a user</h2>
      <form className="form inline-form" onSubmit={(e) => void submit(e)}>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </label>
        <label>
          Password
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={8} autoComplete="new-password" />
        </label>
        <button type="submit" className="primary">
          Create
        </button>
      </form>
      {note && (
        <p className="state ok" role="status">
          {note}
        </p>
      )}
      {error && <ErrorBox error={error} />}
    </section>
  );
}
