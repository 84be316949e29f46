import { useEffect, useState } from "react";
import { Navigate, NavLink, Route, Routes, useLocation } from "react-router-dom";
import { AuthProvider, useAuth } from "./auth";
import { Loading } from "./components/States";
import { TelemetryProvider } from "./telemetry";
import { applyTheme, storedTheme, type Theme } from "./theme";
import { LoginPage } from "./pages/Login";
import { OverviewPage } from "./pages/Overview";
import { TasksPage } from "./pages/Tasks";
import { TaskDetailPage } from "./pages/TaskDetail";
import { QueuePage } from "./pages/Queue";
import { WorkersPage, WorkerDetailPage } from "./pages/Workers";
import { SubmitPage } from "./pages/Submit";
import { AdminPage } from "./pages/Admin";

export function App() {
  return (
    <AuthProvider>
      <Shell />
    </AuthProvider>
  );
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  useEffect(() => applyTheme(theme), [theme]);
  const next: Record<Theme, Theme> = { system: "dark", dark: "light", light: "system" };
  return (
    <button
      type="button"
      className="ghost theme-toggle"
      onClick={() => setTheme(next[theme])}
      aria-label={`Theme: ${theme}. Switch to ${next[theme]}`}
      title={`Theme: ${theme}`}
    >
      {theme === "dark" ? "☾" : theme === "light" ? "☀" : "◐"}
    </button>
  );
}

function Shell() {
  const { user, isAdmin, logout } = useAuth();
  const location = useLocation();
  const [menu, setMenu] = useState(false);
  useEffect(() => setMenu(false), [location.pathname]);
  if (user === undefined) return <Loading what="Starting" />;
  if (user === null) {
    return (
      <div className="auth-shell">
        <header className="auth-header">
          <span className="brand">CloudAI</span>
          <ThemeToggle />
        </header>
        <Routes>
          <Route path="/register" element={<LoginPage mode="register" />} />
          <Route path="*" element={<LoginPage mode="login" />} />
        </Routes>
      </div>
    );
  }
  const links: [string, string][] = [
    ["/", "Overview"],
    ["/tasks", "Tasks"],
    ["/queue", "Queue"],
    ["/cluster/workers", "Workers"],
    ["/submit", "Submit"],
  ];
  if (isAdmin) links.push(["/admin", "Admin"]);
  return (
    <TelemetryProvider>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">CloudAI</span>
        <button
          type="button"
          className="ghost menu-button"
          aria-expanded={menu}
          aria-controls="nav"
          onClick={() => setMenu((m) => !m)}
        >
          Menu
        </button>
        <nav id="nav" aria-label="Main" className={menu ? "open" : ""}>
          {links.map(([to, label]) => (
            <NavLink key={to} to={to} end={to === "/"}>
              {label}
            </NavLink>
          ))}
        </nav>
        <div className="who">
          <span className="user" title={user.email}>
            {user.name}
            {isAdmin && <span className="badge s-admin">admin</span>}
          </span>
          <ThemeToggle />
          <button type="button" className="ghost" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Routes>
          <Route path="/" element={<OverviewPage />} />
          <Route path="/tasks" element={<TasksPage />} />
          <Route path="/tasks/:taskId" element={<TaskDetailPage />} />
          <Route path="/queue" element={<QueuePage />} />
          <Route path="/cluster/workers" element={<WorkersPage />} />
          <Route path="/cluster/workers/:workerId" element={<WorkerDetailPage />} />
          <Route path="/submit" element={<SubmitPage />} />
          <Route path="/admin" element={isAdmin ? <AdminPage /> : <Navigate to="/" replace />} />
          <Route path="/login" element={<Navigate to="/" replace />} />
          <Route path="/register" element={<Navigate to="/" replace />} />
          <Route path="*" element={<p className="state empty">No such page.</p>} />
        </Routes>
      </main>
    </TelemetryProvider>
  );
}
