import { useEffect, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useSocket } from "../hooks";
import { applyLog, EMPTY, resumeQuery, type LogMessage, type LogState } from "../logBuffer";

const ROW = 20;

/**
 * The task's log, live over /ws/tasks/{id}/logs: follows the end unless the reader
 * scrolls up, renders only the visible rows (long logs stay fast), marks stderr, and
 * after a dropped connection resumes from the last byte it has.
 */
export function LogViewer({ taskId, onComplete, waiting = false }: { taskId: string; onComplete?: () => void; waiting?: boolean }) {
  const [log, setLog] = useState<LogState>(EMPTY);
  const logRef = useRef(log);
  logRef.current = log;
  const [follow, setFollow] = useState(true);
  const [problem, setProblem] = useState<string>();
  const done = useRef(onComplete);
  done.current = onComplete;

  const state = useSocket(
    () => `/ws/tasks/${encodeURIComponent(taskId)}/logs${resumeQuery(logRef.current)}`,
    (raw) => {
      const m = raw as LogMessage;
      if (m.type === "error") {
        setProblem(m.message ?? "the log stream failed");
        return;
      }
      setProblem(undefined);
      const next = applyLog(logRef.current, m);
      logRef.current = next;
      setLog(next);
      if (m.type === "complete") {
        done.current?.();
        return "done";
      }
    },
  );

  const scroller = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({
    count: log.lines.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 20,
    initialRect: { width: 800, height: 400 },
  });
  useEffect(() => {
    if (follow && log.lines.length > 0) rows.scrollToIndex(log.lines.length - 1, { align: "end" });
  }, [follow, log.lines.length, rows]);

  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < ROW * 2;
    if (!atEnd && follow) setFollow(false);
  }

  const live = log.end ? "ended" : state === "open" ? "live" : state === "closed" ? "reconnecting" : "connecting";
  return (
    <section className="panel log-panel" aria-label="Log">
      <div className="log-head">
        <h2>Log</h2>
        <span className={`live ${live}`} data-testid="log-state">
          {live}
        </span>
        <span className="sub">
          {log.lines.length} lines · attempt {log.attempt || "—"}
        </span>
        <label className="inline">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <span className="legend-inline">
          <span className="stdout">stdout</span> <span className="stderr">stderr</span>
        </span>
      </div>
      {problem && (
        <p className="state error" role="alert">
          {problem}
        </p>
      )}
      <div
        ref={scroller}
        className="log"
        onScroll={onScroll}
        tabIndex={0}
        role="log"
        aria-label="Task log"
        aria-live="off"
        data-testid="log"
      >
        {log.lines.length === 0 ? (
          <div className="state empty">{log.end ? "The task printed nothing." : waiting ? "The task has not started yet." : "Waiting for output…"}</div>
        ) : (
          <div style={{ height: rows.getTotalSize(), position: "relative" }}>
            {rows.getVirtualItems().map((row) => {
              const line = log.lines[row.index];
              return (
                <div
                  key={row.key}
                  className={`log-line ${line.stream}`}
                  style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW, transform: `translateY(${row.start}px)` }}
                >
                  {line.text || "\u00a0"}
                </div>
              );
            })}
          </div>
        )}
      </div>
      {log.end && (
        <p className="log-end" data-testid="log-end">
          Ended: <strong>{log.end.status}</strong>
          {log.end.exitCode !== null && <> · exit code {log.end.exitCode}</>}
          {log.end.reason && log.end.reason !== `exit code ${log.end.exitCode}` && <> · {log.end.reason}</>}
        </p>
      )}
    </section>
  );
}
