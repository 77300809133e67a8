/*
 * The auditor's page in a real browser: what an auditor does, checked.
 *
 *   node tests/web/auditor.js URL EXPECTATIONS-JSON
 *
 * Launches Chromium headless through playwright-core (the browser is the
 * system's, EXPECTATIONS.chromium), opens URL and checks the node line,
 * a topic's holders, an event search by address, the summaries of a
 * sensitive topic and the bans. Exits 1 with what did not match; prints
 * "auditor page: all checks passed" when everything did.
 *
 * EXPECTATIONS: {chromium, contract, chainId, nodeHost, topic, publisher,
 * grantReason, revokeReason, periodStart, periodEnd, subscriber, banned,
 * banReason}
 */
"use strict";

const path = require("path");
const { chromium } = require(path.join(__dirname, "..", "..",
  "node_modules", "playwright-core"));

const STEP_TIMEOUT_MS = 15000;

function fail(msg) {
  const e = new Error(msg);
  e.expected = true;
  throw e;
}

/* "2026-06-01 10:30:00 UTC", as the page writes times. */
function utc(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

/* Waits until locator has a match; fails with what was awaited. */
async function expectVisible(locator, what, state) {
  try {
    await locator.first().waitFor({ state: state || "visible",
      timeout: STEP_TIMEOUT_MS });
  } catch (e) {
    fail("did not see " + what);
  }
}

async function expectText(locator, re, what) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let text = "";
  while (Date.now() < deadline) {
    text = (await locator.textContent().catch(() => "")) || "";
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(what + ": expected " + re + ", the page shows " +
    JSON.stringify(text));
}

/* A table row (in `scope`) holding every one of `parts` (text or an address). */
function row(scope, parts) {
  let r = scope.locator("tbody tr");
  for (const p of parts) {
    if (/^0x[0-9a-f]{40}$/.test(p))
      r = r.filter({ has: scope.page().locator(`[data-address="${p}"]`) });
    else r = r.filter({ hasText: p });
  }
  return r;
}

async function main() {
  const [url, json] = process.argv.slice(2);
  if (!url || !json) {
    console.error("usage: node auditor.js URL EXPECTATIONS-JSON");
    process.exit(2);
  }
  const want = JSON.parse(json);
  const args = [];
  /* Chromium refuses to run as root inside its own sandbox. */
  if (process.getuid && process.getuid() === 0) args.push("--no-sandbox");
  const browser = await chromium.launch({
    executablePath: want.chromium, headless: true, args,
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push("console: " + m.text());
    });
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
    });
    await page.goto(url, { waitUntil: "domcontentloaded" });

    /* The node line: which node, which contract, which chain, how far. */
    await expectVisible(page.locator(
      `#node-contract [data-address="${want.contract}"]`),
    "the contract " + want.contract + " in the header");
    await expectText(page.locator("#node-host"),
      new RegExp("^" + want.nodeHost.replace(/\./g, "\\.") + "$"),
      "the node's host");
    await expectText(page.locator("#node-chain"),
      new RegExp("^" + want.chainId + "$"), "the chain id");
    await expectText(page.locator("#node-lag"),
      /^(up to date with the chain|\d+ blocks? behind the chain's head) \(block \d+\)$/,
      "how far behind the head");

    /* Every form control has a label; every table has headers. */
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select")]
        .filter((e) => !e.labels || e.labels.length === 0)
        .map((e) => e.id || e.name));
    if (unlabelled.length) fail("controls without a label: " + unlabelled);

    /* A topic's holders, with the reason each right was granted. */
    await expectVisible(page.locator(
      `#holders-topic option[value="${want.topic}"]`),
    "the topic " + want.topic + " in the topic picker", "attached");
    await page.selectOption("#holders-topic", want.topic);
    await page.getByRole("button", { name: "Show holders" }).click();
    const pubTable = page.locator("#holders-result table").filter({
      has: page.locator("caption", { hasText: "May publish on " + want.topic }),
    });
    await expectVisible(row(pubTable, [want.publisher, want.grantReason]),
      "publisher " + want.publisher + " with reason '" + want.grantReason +
      "' under 'May publish on " + want.topic + "'");
    const subTable = page.locator("#holders-result table").filter({
      has: page.locator("caption", { hasText: "May subscribe to" }),
    });
    await expectVisible(row(subTable, [want.subscriber]),
      "subscriber " + want.subscriber);
    if (await row(subTable, [want.publisher]).count() !== 0)
      fail("the revoked subscriber " + want.publisher + " is still listed");
    const granted = await row(pubTable, [want.publisher])
      .locator("time").first().textContent();
    if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/.test(granted || ""))
      fail("grant time is not a UTC time: " + granted);

    /* The record of one address: the grant and the revocation. */
    await page.fill("#events-address", want.publisher);
    await page.getByRole("button", { name: "Search" }).click();
    const events = page.locator("#events-result table");
    await expectVisible(row(events, ["Publish right granted",
      want.grantReason, want.publisher]),
    "the publish grant of " + want.publisher + " in the search");
    await expectVisible(row(events, ["Subscribe right revoked",
      want.revokeReason, want.publisher]),
    "the subscribe revocation of " + want.publisher + " in the search");
    const others = await events.locator("tbody tr").filter({
      hasNot: page.locator(`[data-address="${want.publisher}"]`),
    }).count();
    if (others !== 0) fail(others + " events not about the address shown");

    /* The summaries of the sensitive topic: the period and who used it. */
    await page.selectOption("#summaries-topic", want.topic);
    await page.getByRole("button", { name: "Show summaries" }).click();
    const summaries = page.locator("#summaries-result table");
    await expectVisible(row(summaries, [utc(want.periodStart),
      utc(want.periodEnd), want.publisher, want.subscriber]),
    "the period " + utc(want.periodStart) + " with its publisher and " +
      "subscriber");
    const published = await row(summaries, [utc(want.periodStart)])
      .locator("td").nth(1).locator("[data-address]").first()
      .getAttribute("data-address");
    if (published !== want.publisher)
      fail("the period's publisher is " + published + ", not " +
        want.publisher);

    /* The bans. */
    await page.selectOption("#alerts-action", "Banned");
    await page.getByRole("button", { name: "Show alerts" }).click();
    const alerts = page.locator("#alerts-result table");
    await expectVisible(row(alerts, ["Banned", want.banned, want.banReason]),
      "the ban of " + want.banned + " ('" + want.banReason + "')");
    await expectText(alerts.locator("tbody"), /^(?![\s\S]*wrong country)/i,
      "only bans listed");

    /* Short addresses carry the whole address on hover. */
    const title = await page.locator(`[data-address="${want.banned}"]`)
      .first().getAttribute("title");
    if (title !== want.banned) fail("address title is " + title);

    if (problems.length) fail("the page had problems:\n  " +
      problems.join("\n  "));
  } finally {
    await browser.close();
  }
  console.log("auditor page: all checks passed");
}

main().catch((e) => {
  console.error("auditor page: " + (e.expected ? e.message : e.stack));
  process.exit(1);
});
