import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { Guard } from "../components/States";

function show(props: Partial<Parameters<typeof Guard<string[]>>[0]>) {
  return render(
    <Guard<string[]> data={undefined} error={undefined} loading={false} empty={(d) => d.length === 0} emptyText="Nothing yet." {...props}>
      {(d) => <p>{d.join(",")}</p>}
    </Guard>,
  );
}

describe("Guard: every page's loading, error and empty states", () => {
  it("says it is loading before any data", () => {
    show({ loading: true });
    expect(screen.getByRole("status")).toHaveTextContent("Loading");
  });

  it("shows the error with a retry", async () => {
    const retry = vi.fn();
    show({ error: new Error("the master answered 503"), retry });
    expect(screen.getByRole("alert")).toHaveTextContent("the master answered 503");
    await userEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(retry).toHaveBeenCalledOnce();
  });

  it("says when there is nothing, else shows the data (and a later error above it)", () => {
    const { rerender } = show({ data: [] });
    expect(screen.getByText("Nothing yet.")).toBeInTheDocument();
    rerender(
      <Guard<string[]> data={["a", "b"]} error={new Error("refresh failed")} loading={false}>
        {(d) => <p>{d.join(",")}</p>}
      </Guard>,
    );
    expect(screen.getByText("a,b")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("refresh failed");
  });
});
