import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import { SubmitForm } from "../pages/Submit";
import { DEFAULTS, neverFits, toTaskIn, validate } from "../validate";

const totals = [{ cpu: 4, memory: 8, storage: 100, gpu: 0 }];

function show(submit = vi.fn()) {
  render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <SubmitForm totals={totals} workerIds={["w-1"]} submit={submit} />
    </MemoryRouter>,
  );
  return submit;
}

describe("submit validation", () => {
  it("holds the API's bounds", () => {
    expect(validate({ ...DEFAULTS, image: "busybox" })).toEqual({});
    const bad = validate({ ...DEFAULTS, image: "a b", k: "2.6", cpu: "0", gpu: "1.5", priority: "2000", retries: "-1", timeout: "0" });
    expect(Object.keys(bad).sort()).toEqual(["cpu", "gpu", "image", "k", "priority", "retries", "timeout"]);
    expect(validate({ ...DEFAULTS, image: "x", k: "1.5" }).k).toBeUndefined();
    expect(validate({ ...DEFAULTS, image: "x", k: "1.4" }).k).toMatch(/1\.5 and 2\.5/);
  });

  it("says when no registered worker could ever fit the request", () => {
    expect(neverFits({ ...DEFAULTS, cpu: "2" }, totals)).toBeNull();
    expect(neverFits({ ...DEFAULTS, cpu: "64" }, totals)).toMatch(/could ever fit/);
    expect(neverFits(DEFAULTS, [])).toMatch(/No worker is registered/);
  });

  it("sends the six-type tag, target and timeout as the API names them", () => {
    const body = toTaskIn({ ...DEFAULTS, image: " busybox ", taskType: "gpu-training", target: "w-1", timeout: "30" });
    expect(body).toMatchObject({ docker_image: "busybox", task_type: "gpu-training", tag: "gpu-training", target_worker_id: "w-1", timeout_seconds: 30, command: null });
  });
});

describe("SubmitForm", () => {
  it("shows field errors and does not submit an invalid task", async () => {
    const submit = show();
    await userEvent.click(screen.getByRole("button", { name: "Submit task" }));
    expect(screen.getByText(/Give a Docker image/)).toBeInTheDocument();
    expect(screen.getByLabelText("Docker image")).toHaveAttribute("aria-invalid", "true");
    expect(submit).not.toHaveBeenCalled();
  });

  it("submits a valid task and links to it, with the master's warning", async () => {
    const submit = vi.fn().mockResolvedValue({
      task_id: "task-9", status: "queued", message: "task queued", task_type: "cpu-heavy", deadline: null,
      warning: "no registered worker could ever fit this request",
    });
    show(submit);
    await userEvent.type(screen.getByLabelText("Docker image"), "busybox");
    await userEvent.clear(screen.getByLabelText("CPU cores"));
    await userEvent.type(screen.getByLabelText("CPU cores"), "64");
    expect(screen.getByText(/No registered worker could ever fit/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Submit task" }));
    expect(submit).toHaveBeenCalledWith(expect.objectContaining({ docker_image: "busybox", cpu_required: 64 }));
    expect(await screen.findByRole("link", { name: "open task-9" })).toHaveAttribute("href", "/tasks/task-9");
    expect(screen.getByTestId("submitted")).toHaveTextContent("could ever fit");
  });

  it("shows the server's refusal next to the field it names", async () => {
    const submit = vi.fn().mockRejectedValue(
      new ApiError(422, "body.docker_image: image not allowed", [{ field: "body.docker_image", message: "image not allowed" }]),
    );
    show(submit);
    await userEvent.type(screen.getByLabelText("Docker image"), "evil");
    await userEvent.click(screen.getByRole("button", { name: "Submit task" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The master refused the task: body.docker_image: image not allowed");
    expect(screen.getByText("image not allowed")).toBeInTheDocument();
  });
});
