import { act, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LogViewer } from "../components/LogViewer";
import { FakeSocket } from "./fakeSocket";

function chunk(offset: number, data: string) {
  return { type: "log", attempt: 1, offset, next_offset: offset + data.length, data, stream: null };
}

describe("LogViewer", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.stubGlobal("WebSocket", FakeSocket);
    vi.useFakeTimers();
    // jsdom lays nothing out: give the scroller a size so rows render.
    vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(400);
    vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(800);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("shows lines live, resumes from its last offset after a drop, and stops at the end", () => {
    const onComplete = vi.fn();
    render(<LogViewer taskId="task-1" onComplete={onComplete} />);
    const first = FakeSocket.last();
    expect(first.url).toMatch(/\/ws\/tasks\/task-1\/logs$/);
    act(() => {
      first.open();
      first.send({ type: "connected", attempt: 1, offset: 0 });
      first.send(chunk(0, "line 1\nline "));
    });
    expect(screen.getByText("line 1")).toBeInTheDocument();
    expect(screen.getByTestId("log-state")).toHaveTextContent("live");

    act(() => first.drop());
    expect(screen.getByTestId("log-state")).toHaveTextContent("reconnecting");
    act(() => vi.advanceTimersByTime(1000));
    const second = FakeSocket.last();
    expect(second).not.toBe(first);
    expect(second.url).toMatch(/\/ws\/tasks\/task-1\/logs\?attempt=1&offset=12$/);
    act(() => {
      second.open();
      second.send(chunk(12, "2\n"));
      second.send({ type: "complete", attempt: 1, status: "completed", exit_code: 0, reason: "exit code 0" });
    });
    expect(screen.getByText("line 2")).toBeInTheDocument();
    expect(screen.getByTestId("log-end")).toHaveTextContent("completed");
    expect(screen.getByTestId("log-end")).toHaveTextContent("exit code 0");
    expect(onComplete).toHaveBeenCalledOnce();
    act(() => vi.advanceTimersByTime(20000));
    expect(FakeSocket.all).toHaveLength(2); // ended: no reconnect
  });

  it("shows the stream's error message", () => {
    render(<LogViewer taskId="task-2" />);
    act(() => {
      FakeSocket.last().open();
      FakeSocket.last().send({ type: "error", message: "no such task" });
    });
    expect(screen.getByRole("alert")).toHaveTextContent("no such task");
  });

  it("renders only the visible rows of a long log", () => {
    render(<LogViewer taskId="task-3" />);
    const lines = Array.from({ length: 5000 }, (_, i) => `row ${i}`).join("\n") + "\n";
    act(() => {
      FakeSocket.last().open();
      FakeSocket.last().send(chunk(0, lines));
    });
    expect(screen.getByText(/5000 lines/)).toBeInTheDocument();
    const rendered = document.querySelectorAll(".log-line").length;
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(200);
  });
});
