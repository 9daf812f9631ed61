// e2e.dashboard's browser half (run by tests/e2e/dashboard_test.py): headless Debian Chromium,
// driven by playwright-core, logs in through the one-time link, watches the message counters move
// as the CLI sends messages, restarts a component through its confirmation dialog, and saves a
// screenshot. Every wait is bounded; any failure exits 1 with what was seen.
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");

const arg = (name) => {
  const i = process.argv.indexOf("--" + name);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`--${name} is required`);
  return process.argv[i + 1];
};
const { chromium } = require(arg("playwright"));
const loginUrl = arg("url");
const capsule = arg("capsule");
const admin = arg("admin");
const screenshot = arg("screenshot");
const component = arg("component");
const upgradeFile = arg("upgrade-file");
const WAIT = { timeout: 30000 };

function cli(...args) {
  return execFileSync(capsule, args, { env: { ...process.env, CAPSULE_ADMIN: admin }, encoding: "utf8" });
}

async function cellNumber(page, col) {
  const text = await page.locator(`#components tr[data-component="${component}"] td[data-col="${col}"]`).textContent();
  return Number(text.replace(/,/g, ""));
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "capsule-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    // Root in a container: no sandbox. Nothing reaches out: no QUIC, sync, updates, first-run.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1400, height: 1100 },
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

    // The door: the link's code becomes an HttpOnly, SameSite=Strict cookie, then the page.
    await page.goto(loginUrl, WAIT);
    if (new URL(page.url()).pathname !== "/dashboard/") throw new Error("not redirected to /dashboard/: " + page.url());
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name.startsWith("capsule_session_"));
    if (!session || !session.httpOnly || session.sameSite !== "Strict") {
      throw new Error("session cookie is not HttpOnly + SameSite=Strict: " + JSON.stringify(cookies));
    }
    if (await page.evaluate(() => document.cookie.includes("capsule_session_"))) {
      throw new Error("the page's script can read the session cookie");
    }
    await page.locator("#status[data-state=live]").waitFor(WAIT);
    await page.locator(`#components tr[data-component="${component}"]`).waitFor(WAIT);
    console.log("dashboard live:", page.url());

    // Messages sent with the CLI show up in the counters (and as a rate).
    const before = await cellNumber(page, "messages");
    // A rate shows for one snapshot interval: watched from before the first message on.
    const rateSeen = page.waitForFunction((c) => {
      const cell = document.querySelector(`#components tr[data-component="${c}"] td[data-col="msg-rate"]`);
      return cell && Number(cell.textContent) > 0;
    }, component, WAIT);
    const sent = 25;
    for (let i = 0; i < sent; i++) cli("send", `${component}/${i % 2}`, `m${i}`);
    await page.waitForFunction(([c, n]) => {
      const cell = document.querySelector(`#components tr[data-component="${c}"] td[data-col="messages"]`);
      return cell && Number(cell.textContent.replace(/,/g, "")) >= n;
    }, [component, before + sent], WAIT);
    await rateSeen;
    const after = await cellNumber(page, "messages");
    console.log(`messages shown: ${before} -> ${after} after ${sent} sent`);

    // Cancel really cancels: Stop, then Cancel, and the component still runs.
    await page.locator(`#components tr[data-component="${component}"] button[data-action=stop]`).click();
    await page.locator("#confirm[open]").waitFor(WAIT);
    await page.locator("#confirm-cancel").click();
    await page.locator("#confirm").waitFor({ state: "hidden", ...WAIT });
    await new Promise((r) => setTimeout(r, 1500));  // a stop would show within a snapshot or two
    if (JSON.parse(cli("ps", "--json")).instances.filter((i) => i.id.startsWith(component + "/")).length !== 2) {
      throw new Error("Cancel did not cancel the Stop");
    }

    // Stop, confirmed: the component stays listed, stopped, so that it can be restarted.
    const restarts = await cellNumber(page, "restarts");
    await page.locator(`#components tr[data-component="${component}"] button[data-action=stop]`).click();
    await page.locator("#confirm[open]").waitFor(WAIT);
    await page.locator("#confirm-ok").click();
    await page.locator(`#components tr[data-component="${component}"] td[data-col="state"]:text-is("stopped")`).waitFor(WAIT);
    if (JSON.parse(cli("ps", "--json")).instances.some((i) => i.id.startsWith(component + "/"))) {
      throw new Error("instances left after Stop");
    }

    // Restart through the confirmation dialog: running again, and the restart count goes up.
    await page.evaluate(() => { document.querySelector("#banner").textContent = ""; });  // not Stop's
    await page.locator(`#components tr[data-component="${component}"] button[data-action=restart]`).click();
    await page.locator("#confirm[open]").waitFor(WAIT);
    const question = await page.locator("#confirm-text").textContent();
    if (!question.includes(`Restart ${component}?`)) throw new Error("confirmation text: " + question);
    await page.locator("#confirm-ok").click();
    await page.waitForFunction(() => document.querySelector("#banner").textContent.endsWith(": done"), null, WAIT);
    await page.waitForFunction(([c, n]) => {
      const cell = document.querySelector(`#components tr[data-component="${c}"] td[data-col="restarts"]`);
      return cell && Number(cell.textContent.replace(/,/g, "")) > n;
    }, [component, restarts], WAIT);
    console.log(`restarts shown: ${restarts} -> ${await cellNumber(page, "restarts")}`);
    const ps = JSON.parse(cli("ps", "--json"));
    const ours = ps.instances.filter((i) => i.id.startsWith(component + "/"));
    if (ours.length === 0 || ours.some((i) => i.state !== "running")) throw new Error("after restart: " + JSON.stringify(ours));

    // The new instances count from 0, and the page keeps up with them.
    for (let i = 0; i < 10; i++) cli("send", `${component}/${i % 2}`, `after restart ${i}`);
    await page.waitForFunction((c) => {
      const cell = document.querySelector(`#components tr[data-component="${c}"] td[data-col="messages"]`);
      return cell && Number(cell.textContent.replace(/,/g, "")) >= 10;
    }, component, WAIT);

    // Upgrade asks for the file too; one outside the host's upgrade_dirs is refused, and the page
    // says so; the manifest's own directory is allowed.
    async function upgrade(file) {
      await page.evaluate(() => { document.querySelector("#banner").textContent = ""; });
      await page.locator(`#components tr[data-component="${component}"] button[data-action=upgrade]`).click();
      await page.locator("#confirm[open]").waitFor(WAIT);
      await page.locator("#upgrade-path").fill(file);
      await page.locator("#confirm-ok").click();
      await page.waitForFunction(() => /: done$|failed/.test(document.querySelector("#banner").textContent), null, WAIT);
      return page.locator("#banner").textContent();
    }
    if (errors.length) throw new Error("page errors: " + errors.join("; "));
    const refused = await upgrade("/etc/passwd");
    if (!refused.includes("failed (HTTP 403)")) throw new Error("upgrade outside upgrade_dirs: " + refused);
    // The browser logs the refused POST itself; that one error is expected.
    errors.splice(0, errors.length, ...errors.filter((e) => !e.includes("status of 403")));
    const upgraded = await upgrade(upgradeFile);
    if (!upgraded.endsWith(": done")) throw new Error("upgrade: " + upgraded);
    console.log("upgrade:", refused, "/", upgraded);

    // Another page on this machine (another port is the same *site*, so SameSite=Strict sends the
    // cookie along) posts a Stop to the dashboard's listener: the Origin check refuses it, the
    // component keeps running, and the dashboard lists the denial.
    const evil = http.createServer((req, res) => {
      res.setHeader("Content-Type", "text/html");
      res.end(`<!doctype html><script>
        fetch("${new URL(loginUrl).origin}/v1/stop", {method: "POST", mode: "no-cors",
          credentials: "include", headers: {"Content-Type": "text/plain"},
          body: JSON.stringify({component: "${component}"})}).finally(() => { document.title = "sent"; });
      </script>`);
    });
    await new Promise((r) => evil.listen(0, "127.0.0.1", r));
    const other = await context.newPage();
    await other.goto(`http://127.0.0.1:${evil.address().port}/`, WAIT);
    await other.waitForFunction(() => document.title === "sent", null, WAIT);
    await other.close();
    evil.close();
    await page.locator('#denials tbody tr:has-text("requests from web pages are refused")').first().waitFor(WAIT);
    const still = JSON.parse(cli("ps", "--json")).instances.filter((i) => i.id.startsWith(component + "/"));
    if (still.length !== 2 || still.some((i) => i.state !== "running")) throw new Error("cross-origin stop: " + JSON.stringify(still));
    console.log("a POST from another page on this machine was refused");

    // The log tail carries the restart's and the upgrade's lines; the refused upgrade is a denial.
    await page.waitForFunction(() => {
      const log = document.querySelector("#log").textContent;
      return log.includes("restarted") && log.includes("upgraded");
    }, null, WAIT);
    await page.locator('#denials tbody tr:has-text("admin.upgrade")').first().waitFor(WAIT);
    if (errors.length) throw new Error("page errors: " + errors.join("; "));

    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log("screenshot:", screenshot);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error("browser check failed:", e && e.stack ? e.stack : e);
  process.exit(1);
});
