// Drives the browser page in Debian's headless chromium for tests/browser.rs.
//
//   node web/e2e/run.mjs <config.json>
//
// The Rust test owns the scenario and the server; this script only works
// the page as a person would (typing, clicking) and reports what the page
// shows. It reads one JSON command per line on stdin and answers each with
// one JSON line on stdout: {"ok": true, "result": ...} or {"ok": false,
// "error": "..."}. The first line it writes is {"ok": true, "result":
// "ready"} once the browser runs. Every wait has a timeout, and the whole
// run has a deadline, so a broken page fails the test instead of hanging it.
//
// config.json: {"base": "https://localhost:PORT", "cert": "server.pem",
//               "chromium": "/usr/bin/chromium", "token": "v4.public..."}
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const STEP_MS = 20000;
const DEADLINE_MS = 180000;

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

// Trust exactly the test server's certificate, not every certificate:
// chromium skips verification only for a leaf whose SPKI hash is listed.
function leafSpkiHash(pemFile) {
  const pem = readFileSync(pemFile, "utf8");
  const leaf = new X509Certificate(pem.slice(0, pem.indexOf("-----END CERTIFICATE-----") + 25));
  const spki = leaf.publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

const log = (...a) => console.error("[e2e]", ...a);
const reply = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const browser = await chromium.launch({
  executablePath: config.chromium,
  headless: true,
  // Playwright gives every launch a fresh temporary --user-data-dir.
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-proxy-server",
    `--ignore-certificate-errors-spki-list=${leafSpkiHash(config.cert)}`,
  ],
  timeout: STEP_MS * 3,
});

async function quit(code) {
  await browser.close().catch(() => {});
  process.exit(code);
}
setTimeout(() => { log("deadline passed"); quit(3); }, DEADLINE_MS).unref();

const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
const page = await context.newPage();
page.setDefaultTimeout(STEP_MS);
const seen = { dialogs: [], pageErrors: [], consoleErrors: [] };
page.on("dialog", (d) => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
page.on("pageerror", (e) => { seen.pageErrors.push(String(e)); log("page error:", String(e)); });
page.on("response", (r) => { if (r.status() >= 400) log(`HTTP ${r.status()} for ${r.url()}`); });
page.on("console", (m) => { if (m.type() === "error") { seen.consoleErrors.push(m.text()); log("console:", m.text(), m.location()?.url ?? ""); } });

const tid = (id) => page.getByTestId(id);

async function roomShown(room) {
  await page.waitForFunction((r) => document.querySelector("#room-title")?.textContent === r, room);
}

const COMMANDS = {
  // Loads the page with the token in the fragment and waits for the Welcome.
  async open() {
    await page.goto(`${config.base}/#token=${config.token}`);
    await page.waitForSelector('[data-testid="state"][data-state="connected"]');
    return {
      href: page.url(),
      hash: await page.evaluate(() => location.hash),
      historyLength: await page.evaluate(() => history.length),
      user: await tid("welcome-user").textContent(),
      accountOpen: await tid("account").evaluate((d) => d.open),
    };
  },
  async join({ room, passphrase }) {
    await page.evaluate(() => { document.querySelector("#join-box").open = true; });
    await tid("room-input").fill(room);
    if (passphrase) await tid("passphrase-input").fill(passphrase);
    await tid("join-button").click();
    await roomShown(room); // the title drops "(not joined)" once Joined came
    return null;
  },
  async tab({ room }) {
    await page.locator(`[data-testid="room-tab"][data-room="${room}"]`).click();
    await roomShown(room);
    return null;
  },
  // Leaves and joins again in one go, as a quick double action does: the
  // server's Left for the old membership arrives after the new Join left.
  async rejoin({ room }) {
    await page.evaluate((r) => {
      document.querySelector(`[data-testid="leave-button"][data-room="${r}"]`).click();
      document.querySelector("#room-input").value = r;
      document.querySelector("#join-form").requestSubmit();
    }, room);
    await roomShown(room);
    return null;
  },
  // Types and sends; done once the page cleared the box (it sent the frame).
  async send({ text }) {
    await tid("send-input").fill(text);
    await tid("send-button").click();
    await page.waitForFunction(() => document.querySelector("#send-input").value === "");
    return null;
  },
  // Waits for a message whose text (and kind, when given) is as asked.
  async message({ text, kind }) {
    const handle = await page.waitForFunction(([t, k]) => {
      const items = [...document.querySelectorAll('#messages [data-testid="message"]')];
      const li = items.find((m) => m.querySelector('[data-testid="message-text"]').textContent === t
        && (!k || m.dataset.kind === k));
      return li && {
        seq: li.dataset.seq,
        kind: li.dataset.kind,
        from: li.querySelector('[data-testid="message-from"]').textContent,
        text: li.querySelector('[data-testid="message-text"]').textContent,
        textHtml: li.querySelector('[data-testid="message-text"]').innerHTML,
      };
    }, [text, kind ?? null]);
    return handle.jsonValue();
  },
  // Sends by keyboard: Shift+Enter between the lines, Enter at the end.
  async sendEnter({ lines }) {
    const box = tid("send-input");
    await box.click();
    for (const [i, line] of lines.entries()) {
      if (i > 0) await box.press("Shift+Enter");
      await box.pressSequentially(line);
    }
    await box.press("Enter");
    await page.waitForFunction(() => document.querySelector("#send-input").value === "");
    return null;
  },
  // The room list: name, unread badge (null when none), shown or not;
  // with `unreadIn`, once that room shows an unread badge.
  async tabs({ unreadIn }) {
    if (unreadIn) await page.waitForSelector(`[data-testid="room-tab"][data-room="${unreadIn}"] [data-testid="unread"]`);
    return page.locator('[data-testid="room-tab"]').evaluateAll((tabs) => tabs.map((t) => ({
      room: t.dataset.room,
      unread: t.querySelector('[data-testid="unread"]')?.textContent ?? null,
      current: t.getAttribute("aria-current") === "true",
    })));
  },
  // Waits for a message, then says whether it is inside the list's visible
  // area as the page left it (nothing here scrolls), and the marker state.
  async seen({ text }) {
    await COMMANDS.message({ text });
    return page.evaluate((t) => {
      const list = document.querySelector("#messages");
      const li = [...list.querySelectorAll('[data-testid="message"]')]
        .find((m) => m.querySelector('[data-testid="message-text"]').textContent === t);
      const box = list.getBoundingClientRect();
      const r = li.getBoundingClientRect();
      const el = li.querySelector('[data-testid="message-text"]');
      return {
        inView: r.top >= box.top - 1 && r.bottom <= box.bottom + 1,
        inWindow: r.top >= 0 && r.bottom <= window.innerHeight,
        overflows: list.scrollHeight > list.clientHeight,
        marker: !document.querySelector("#new-messages").hidden,
        dir: el.getAttribute("dir"),
        bidi: getComputedStyle(el).unicodeBidi,
      };
    }, text);
  },
  // Scrolls the message list to its top, as a reader going back would.
  async scrollUp() {
    await page.evaluate(() => { document.querySelector("#messages").scrollTop = 0; });
    await page.waitForFunction(() => document.querySelector("#messages").scrollTop === 0);
    return null;
  },
  async viewport({ width, height }) {
    await page.setViewportSize({ width, height });
    return page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
  },
  // A second page whose token the server refuses: what does it tell the user?
  async refused() {
    const other = await context.newPage();
    other.setDefaultTimeout(STEP_MS);
    await other.goto(`${config.base}/#token=v4.public.refused`);
    await other.waitForSelector('[data-testid="connect-help"]:not([hidden])');
    const help = await other.getByTestId("connect-help").innerText();
    const healthz = await other.locator('[data-testid="connect-help"] a').getAttribute("href");
    await other.close();
    return { help, healthz };
  },
  // Waits until the member list shows exactly `names` (sorted), then
  // returns its title and the room's notes (arrivals, departures, losses).
  async members({ names }) {
    await page.waitForFunction((want) => {
      const box = document.querySelector('[data-testid="members"]');
      const got = [...document.querySelectorAll('[data-testid="member"]')].map((m) => m.textContent);
      return !box.hidden && JSON.stringify(got) === JSON.stringify(want);
    }, names);
    return {
      title: await page.locator("#members-title").textContent(),
      notes: await COMMANDS.notes(),
    };
  },
  // The room's notes as shown.
  async notes() {
    return page.locator('[data-testid="room-note"]').evaluateAll((notes) => notes.map((n) => ({
      kind: n.dataset.kind,
      text: n.textContent,
      user: n.querySelector("bdi")?.textContent ?? null,
    })));
  },
  // Waits until the page says `state` (connected, reconnecting, ...).
  async state({ state }) {
    await page.waitForSelector(`[data-testid="state"][data-state="${state}"]`);
    return page.locator('[data-testid="notice"]').allTextContents();
  },
  async inspect() {
    return {
      ...seen,
      images: await page.locator("#messages img").count(),
      elementsInTexts: await page.locator('#messages [data-testid="message-text"] *').count(),
      notices: await page.locator('[data-testid="notice"]').allTextContents(),
      noteKinds: await page.locator('[data-testid="room-note"]').evaluateAll((ns) => ns.map((n) => n.dataset.kind)),
      texts: await page.locator('#messages [data-testid="message-text"]').allTextContents(),
      state: await tid("state").getAttribute("data-state"),
    };
  },
  async screenshot({ path }) {
    await page.screenshot({ path, fullPage: false });
    return path;
  },
};

reply({ ok: true, result: "ready" });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let cmd;
  try {
    cmd = JSON.parse(line);
    const run = COMMANDS[cmd.cmd];
    if (!run) throw new Error(`unknown command ${cmd.cmd}`);
    reply({ ok: true, result: await run(cmd) });
  } catch (e) {
    log(`${cmd?.cmd ?? "?"} failed:`, e.message);
    reply({ ok: false, error: `${cmd?.cmd ?? "?"}: ${e.message.split("\n")[0]}` });
  }
}
// stdin closed: the test is done with us.
await quit(0);
