// End-to-end: a real `cloudai up` (as the README starts it) driven through Debian's
// Chromium with playwright-core. Run from ui/: `npm run e2e` (after scripts/build-ui.sh).
// CHROMIUM_PATH: the browser (default /usr/bin/chromium). Screenshots of every page,
// light and dark, desktop and phone: e2e/screenshots/ (not committed).
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const SHOTS = join(HERE, "screenshots");
const ADMIN = { email: "admin-e2e@cloudai.test", password: "e2e-admin-password" };
const IMAGE = "cloudai-test:latest";
const WAIT = 60_000; // the longest any one expected thing may take

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

async function startCluster() {
  const dataDir = mkdtempSync(join(tmpdir(), "cloudai-e2e-"));
  const [http, grpc] = [await freePort(), await freePort()];
  const args = ["up", "--workers", "2", "--data-dir", dataDir, "--http-port", String(http), "--grpc-port", String(grpc)];
  const env = { ...process.env, PYTHONUNBUFFERED: "1", CLOUDAI_ADMIN_EMAIL: ADMIN.email, CLOUDAI_ADMIN_PASSWORD: ADMIN.password };
  const child = spawn(join(ROOT, ".venv", "bin", "cloudai"), args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((ok) => child.on("exit", (code, signal) => ok({ code, signal })));
  const base = `http://127.0.0.1:${http}`;
  // Up when the banner is printed (it is, once the master listens and workers joined).
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`cloudai up did not come up:\n${output}`)), 120_000);
    const check = () => {
      if (output.includes("CloudAI is up")) {
        clearTimeout(timer);
        child.stdout.off("data", check);
        ok();
      }
    };
    child.stdout.on("data", check);
    child.on("exit", () => fail(new Error(`cloudai up exited:\n${output}`)));
  });
  async function stop() {
    if (child.exitCode === null) child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const how = await exited;
    clearTimeout(killer);
    rmSync(dataDir, { recursive: true, force: true });
    return how;
  }
  return { base, stop, log: () => output };
}

const results = [];
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split("\n").slice(0, 6).join("\n     ")}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function textOf(locator) {
  return (await locator.textContent({ timeout: WAIT })) ?? "";
}

async function submitTask(page, { name, command, cpu }) {
  await page.getByRole("link", { name: "Submit", exact: true }).first().click();
  await page.getByRole("heading", { name: "Submit a task" }).waitFor();
  await page.getByLabel("Docker image").fill(IMAGE);
  await page.getByLabel("Name (optional)").fill(name);
  await page.getByLabel("Command").fill(command);
  if (cpu) await page.getByLabel("CPU cores").fill(String(cpu));
  await page.getByRole("button", { name: "Submit task" }).click();
  const done = page.getByTestId("submitted");
  await done.waitFor({ timeout: WAIT });
  const text = await textOf(done);
  await done.getByRole("link").click();
  await page.locator(".title-row h1", { hasText: name }).waitFor({ timeout: WAIT });
  return text;
}

function titleStatus(page) {
  return page.locator(".title-row .badge").first();
}

async function main() {
  const cluster = await startCluster();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ baseURL: cluster.base, viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  const urls = {};
  try {
    await step("the login page opens and the admin logs in", async () => {
      await page.goto("/");
      await page.getByRole("heading", { name: "Log in to CloudAI" }).waitFor();
      await page.getByLabel("Email").fill(ADMIN.email);
      await page.getByLabel("Password").fill(ADMIN.password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      await page.locator(".worker-chart").nth(1).waitFor(); // both local workers report
    });

    await step("a worker's chart moves: a telemetry update arrives", async () => {
      // The snapshot has come (the charts are drawn); then a heartbeat's update must
      // arrive and add a point to a chart.
      const panel = page.locator("[data-updates]");
      const updates = Number(await panel.getAttribute("data-updates"));
      assert(updates >= 1, "the telemetry snapshot arrived");
      const points = () =>
        page.evaluate(() => [...document.querySelectorAll(".worker-chart .chart")].map((c) => c.getAttribute("data-points")).join("|"));
      const before = await points();
      await page.waitForFunction((n) => Number(document.querySelector("[data-updates]")?.getAttribute("data-updates")) > n, updates, { timeout: WAIT });
      await page.waitForFunction((b) => [...document.querySelectorAll(".worker-chart .chart")].map((c) => c.getAttribute("data-points")).join("|") !== b, before, { timeout: WAIT });
      assert((await points()) !== before, "a chart got a new point");
    });

    await step("a submitted task completes with its log arriving live", async () => {
      const command = "for i in 1 2 3 4 5 6; do echo line $i; sleep 1; done; echo oops >&2; echo done-$((6*7)) > /output/result.txt";
      await submitTask(page, { name: "e2e-complete", command });
      urls.task = new URL(page.url()).pathname;
      const log = page.getByTestId("log");
      await log.getByText("line 1", { exact: true }).waitFor({ timeout: WAIT });
      assert((await page.getByTestId("log-end").count()) === 0, "the log should arrive before the task ends");
      assert((await textOf(page.getByTestId("log-state"))) === "live", "the log stream should be live");
      await page.getByTestId("log-end").waitFor({ timeout: WAIT });
      assert((await textOf(page.getByTestId("log-end"))).includes("completed"), "the log should end with completed");
      for (const n of [1, 6]) await log.getByText(`line ${n}`, { exact: true }).waitFor();
      await log.locator(".log-line.stderr", { hasText: "oops" }).waitFor(); // its stream, end to end
      assert((await log.locator(".log-line.stderr").count()) === 1, "only the stderr line is marked stderr");
      await titleStatus(page).filter({ hasText: "completed" }).waitFor();
    });

    await step("its output file is listed and downloads with its content", async () => {
      const row = page.getByRole("row", { name: /result\.txt/ });
      await row.waitFor({ timeout: WAIT });
      const [download] = await Promise.all([page.waitForEvent("download"), row.getByRole("link", { name: /Download/ }).click()]);
      const content = readFileSync(await download.path(), "utf8");
      assert(content === "done-42\n", `downloaded ${JSON.stringify(content)}`);
    });

    await step("run again submits the same task anew", async () => {
      await page.getByRole("button", { name: "Run again" }).click();
      await page.waitForURL((url) => url.pathname.startsWith("/tasks/") && url.pathname !== urls.task);
      await page.locator(".title-row h1", { hasText: "e2e-complete" }).waitFor();
      await page.getByText("cloudai-test:latest", { exact: true }).waitFor();
    });

    await step("a running task is cancelled", async () => {
      await submitTask(page, { name: "e2e-cancel", command: "echo started; sleep 120" });
      await page.getByTestId("log").getByText("started", { exact: true }).waitFor({ timeout: WAIT });
      await titleStatus(page).filter({ hasText: "running" }).waitFor();
      await page.getByRole("button", { name: "Cancel task" }).click();
      await titleStatus(page).filter({ hasText: "cancelled" }).waitFor();
      await page.getByTestId("log-end").filter({ hasText: "cancelled" }).waitFor();
    });

    await step("a task too big for any worker waits, and says why", async () => {
      const said = await submitTask(page, { name: "e2e-too-big", command: "echo never", cpu: 1000 });
      assert(/could ever fit/.test(said), `the submit answer should warn: ${said}`);
      urls.queuedTask = new URL(page.url()).pathname;
      const pending = page.getByTestId("pending");
      await pending.waitFor();
      assert(/could ever fit/.test(await textOf(pending)), "the task page should say why it waits");
      await page.getByRole("link", { name: "Queue", exact: true }).click();
      const row = page.getByRole("row", { name: /e2e-too-big/ });
      await row.waitFor();
      assert(/could ever fit/.test(await textOf(row)), "the queue should say why it waits");
    });

    await step("the tasks table lists them, filters by status, and the search narrows", async () => {
      await page.getByRole("link", { name: "Tasks", exact: true }).click();
      await page.getByRole("link", { name: "e2e-complete" }).first().waitFor();
      await page.getByLabel("Status").selectOption("cancelled");
      await page.locator('[data-testid="task-page"][data-ready="true"]').waitFor();
      await page.getByRole("link", { name: "e2e-cancel" }).waitFor();
      assert((await page.getByRole("link", { name: "e2e-complete" }).count()) === 0, "filter should hide completed");
      await page.getByLabel("Status").selectOption("");
      await page.getByRole("link", { name: "e2e-complete" }).first().waitFor();
      await page.getByLabel("Search", { exact: true }).fill("too-big");
      await page.getByRole("link", { name: "e2e-complete" }).first().waitFor({ state: "detached" });
      await page.waitForURL(/[?&]q=too-big/); // then the server searched (GET /api/tasks?q=)
      await page.locator('[data-testid="task-page"][data-ready="true"]').waitFor();
      await page.getByRole("link", { name: "e2e-too-big" }).waitFor();
      await page.getByLabel("Search", { exact: true }).fill("");
    });

    await step("an admin drains a worker", async () => {
      await page.getByRole("link", { name: "Workers", exact: true }).click();
      const drain = page.getByRole("button", { name: /^Drain / }).first();
      await drain.waitFor();
      const id = ((await drain.getAttribute("aria-label")) ?? "").replace(/^Drain /, "");
      urls.worker = `/cluster/workers/${encodeURIComponent(id)}`;
      await drain.click();
      await page.locator(`tr[data-worker="${id}"] .badge`, { hasText: "draining" }).waitFor();
    });

    await step("the keyboard reaches the navigation and the theme toggle", async () => {
      await page.goto("/");
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      await page.keyboard.press("Tab");
      assert((await page.evaluate(() => document.activeElement?.textContent)) === "Skip to content", "skip link first");
      let focused = "";
      for (let i = 0; i < 10 && focused !== "Queue"; i++) {
        await page.keyboard.press("Tab");
        focused = (await page.evaluate(() => document.activeElement?.textContent)) ?? "";
      }
      assert(focused === "Queue", "the Queue link is reachable by Tab");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Queue" }).waitFor();
      const toggle = page.getByRole("button", { name: /^Theme:/ });
      await toggle.focus();
      await page.keyboard.press("Enter");
      assert((await page.evaluate(() => document.documentElement.dataset.theme)) === "dark", "the toggle picks dark");
      await page.keyboard.press("Enter");
      await page.keyboard.press("Enter");
      assert((await page.evaluate(() => document.documentElement.dataset.theme)) === undefined, "back to the system's");
    });

    await step("the admin page shows the scheduler in use", async () => {
      await page.getByRole("link", { name: "Admin", exact: true }).click();
      await page.getByTestId("scheduler").waitFor();
      assert((await textOf(page.getByTestId("scheduler"))).length > 0, "a scheduler is named");
    });

    await step("an admin creates a user, makes them admin, and disables them", async () => {
      const form = page.getByRole("region", { name: "Create a user" });
      await form.getByLabel("Name").fill("Grace");
      await form.getByLabel("Email").fill("grace@cloudai.test");
      await form.getByLabel("Password").fill("grace-password");
      await form.getByRole("button", { name: "Create" }).click();
      const row = page.locator('tr[data-user="grace@cloudai.test"]');
      await row.waitFor();
      await row.getByRole("button", { name: "Make admin" }).click();
      await row.getByRole("button", { name: "Make user" }).waitFor();
      await row.getByRole("button", { name: "Disable" }).click();
      await row.getByText("disabled").waitFor();
    });

    await step("every page: screenshots (light, dark; desktop, phone) and no serious axe violation", async () => {
      await screenshotsAndAxe(browser, context, cluster.base, urls);
    });
  } finally {
    await browser.close();
    const how = await cluster.stop();
    console.log(`cloudai up stopped (${how.signal ?? `exit ${how.code}`})`);
  }
  const failed = results.filter((r) => !r.ok);
  console.log(`\n${results.length - failed.length} passed, ${failed.length} failed`);
  if (failed.length) {
    console.log("--- cloudai up output (tail) ---\n" + cluster.log().slice(-4000));
    process.exit(1);
  }
}

async function screenshotsAndAxe(browser, loggedIn, base, urls) {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  const state = await loggedIn.storageState();
  const pages = [
    ["overview", "/", "Overview"],
    ["tasks", "/tasks", "Tasks"],
    ["task-detail", urls.task, "e2e-complete"],
    ["task-queued", urls.queuedTask, "e2e-too-big"],
    ["queue", "/queue", "Queue"],
    ["workers", "/cluster/workers", "Workers"],
    ["worker-detail", urls.worker, null],
    ["submit", "/submit", "Submit a task"],
    ["admin", "/admin", "Admin"],
  ];
  const problems = [];
  for (const scheme of ["light", "dark"]) {
    for (const [size, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
      const anon = await browser.newContext({ baseURL: base, viewport, colorScheme: scheme });
      const page = await anon.newPage();
      for (const [name, path, heading] of [["login", "/login", "Log in to CloudAI"], ["register", "/register", "Create an account"]]) {
        await page.goto(path);
        await page.getByRole("heading", { name: heading }).waitFor();
        await shoot(page, `${name}-${scheme}-${size}`, problems, size === "desktop");
      }
      await anon.close();
      const ctx = await browser.newContext({ baseURL: base, viewport, colorScheme: scheme, storageState: state });
      const p = await ctx.newPage();
      for (const [name, path, heading] of pages) {
        if (!path) continue;
        await p.goto(path);
        await (heading ? p.getByRole("heading", { name: heading }).first() : p.locator(".title-row h1")).waitFor();
        await p.locator(".state.loading").first().waitFor({ state: "detached", timeout: 10_000 }).catch(() => undefined);
        await shoot(p, `${name}-${scheme}-${size}`, problems, size === "desktop");
      }
      await ctx.close();
    }
  }
  assert(problems.length === 0, `accessibility:\n${problems.join("\n")}`);
}

async function shoot(page, name, problems, checkAxe) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  if (!checkAxe) return;
  const report = await new AxeBuilder({ page }).analyze();
  for (const v of report.violations) {
    if (v.impact === "serious" || v.impact === "critical") {
      problems.push(`${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
