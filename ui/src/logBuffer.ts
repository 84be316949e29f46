// The log viewer's state, kept apart from React so its resume logic can be tested:
// lines as they arrive per attempt, where to resume (attempt, next offset), and the end.

export type LogLine = { text: string; stream: "stdout" | "stderr" | "meta"; attempt: number };

export type LogMessage = {
  type: string;
  attempt?: number;
  offset?: number;
  next_offset?: number;
  data?: string;
  stream?: string | null;
  status?: string;
  exit_code?: number | null;
  reason?: string;
  message?: string;
};

export type LogState = {
  lines: LogLine[];
  open: boolean; // the last line has no newline yet
  attempt: number; // 0: nothing received
  offset: number; // next byte of `attempt` to ask for
  end: { status: string; exitCode: number | null; reason: string } | null;
};

export const EMPTY: LogState = { lines: [], open: false, attempt: 0, offset: 0, end: null };

/** The query that resumes the stream where `state` stopped (no loss, no repetition). */
export function resumeQuery(state: LogState): string {
  return state.attempt === 0 ? "" : `?attempt=${state.attempt}&offset=${state.offset}`;
}

function streamOf(raw: string | null | undefined): LogLine["stream"] {
  return raw === "stderr" ? "stderr" : "stdout";
}

/** `state` with one WebSocket message applied (a new object; `state` is kept). */
export function applyLog(state: LogState, m: LogMessage): LogState {
  if (m.type === "complete") {
    return {
      ...state,
      end: { status: m.status ?? "", exitCode: m.exit_code ?? null, reason: m.reason ?? "" },
    };
  }
  if (m.type !== "log" || typeof m.data !== "string") return state;
  const attempt = m.attempt ?? 1;
  const start = m.offset ?? 0;
  const next = m.next_offset ?? start + new TextEncoder().encode(m.data).length;
  if (attempt < state.attempt || (attempt === state.attempt && next <= state.offset)) {
    return state; // already have it (a repeat after a reconnect)
  }
  let lines = state.lines;
  let open = state.open;
  if (attempt !== state.attempt) {
    if (state.attempt !== 0 || attempt > 1) {
      lines = [...lines, { text: `── attempt ${attempt} ──`, stream: "meta", attempt }];
    } else {
      lines = [...lines];
    }
    open = false;
  } else {
    lines = [...lines];
  }
  const stream = streamOf(m.stream);
  const pieces = m.data.split("\n");
  pieces.forEach((piece, i) => {
    const last = lines[lines.length - 1];
    if (i === 0 && open && last && last.stream === stream) {
      lines[lines.length - 1] = { ...last, text: last.text + piece };
    } else if (i < pieces.length - 1 || piece !== "") {
      lines.push({ text: piece, stream, attempt });
    }
  });
  open = !m.data.endsWith("\n");
  return { ...state, lines, open, attempt, offset: next };
}
