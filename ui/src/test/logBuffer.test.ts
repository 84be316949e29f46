import { describe, expect, it } from "vitest";
import { applyLog, EMPTY, resumeQuery, type LogMessage, type LogState } from "../logBuffer";

const log = (attempt: number, offset: number, data: string, stream: string | null = null): LogMessage => ({
  type: "log",
  attempt,
  offset,
  next_offset: offset + new TextEncoder().encode(data).length,
  data,
  stream,
});

function feed(...messages: LogMessage[]): LogState {
  return messages.reduce(applyLog, EMPTY);
}

describe("the log buffer", () => {
  it("joins a line split across messages and starts new lines at newlines", () => {
    const s = feed(log(1, 0, "hel"), log(1, 3, "lo\nwor"), log(1, 10, "ld\n"));
    expect(s.lines.map((l) => l.text)).toEqual(["hello", "world"]);
    expect(s.open).toBe(false);
    expect(s.offset).toBe(13);
  });

  it("resumes from the attempt and next offset it has, and nothing before the first byte", () => {
    expect(resumeQuery(EMPTY)).toBe("");
    expect(resumeQuery(feed(log(1, 0, "a\n"), log(1, 2, "é\n")))).toBe("?attempt=1&offset=5");
  });

  it("drops what it already has when a reconnect repeats it", () => {
    const once = feed(log(1, 0, "one\n"), log(1, 4, "two\n"));
    const again = applyLog(once, log(1, 4, "two\n"));
    expect(again).toBe(once);
    expect(again.lines.map((l) => l.text)).toEqual(["one", "two"]);
  });

  it("marks a retry's new attempt and follows it from its own offsets", () => {
    const s = feed(log(1, 0, "first\n"), log(2, 0, "second\n"));
    expect(s.lines.map((l) => [l.text, l.stream])).toEqual([
      ["first", "stdout"],
      ["── attempt 2 ──", "meta"],
      ["second", "stdout"],
    ]);
    expect(resumeQuery(s)).toBe("?attempt=2&offset=7");
    expect(applyLog(s, log(1, 6, "late\n"))).toBe(s); // an older attempt's repeat
  });

  it("keeps stderr apart from stdout", () => {
    const s = feed(log(1, 0, "out ", "stdout"), log(1, 4, "err\n", "stderr"));
    expect(s.lines.map((l) => [l.text, l.stream])).toEqual([
      ["out ", "stdout"],
      ["err", "stderr"],
    ]);
  });

  it("records the end with status and exit code", () => {
    const s = applyLog(feed(log(1, 0, "x\n")), { type: "complete", status: "failed", exit_code: 3, reason: "exit code 3" });
    expect(s.end).toEqual({ status: "failed", exitCode: 3, reason: "exit code 3" });
    expect(s.lines).toHaveLength(1);
  });
});
