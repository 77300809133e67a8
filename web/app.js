/*
 * The FlyTrap auditor's page: reads chaind's read-only audit API
 * (api/v1/<kind>, docs/AUDIT.md) and shows it to people who are not
 * engineers. Plain JavaScript, no framework, no build step; data only
 * ever becomes text nodes, never markup.
 */
"use strict";

(function () {
  const STATUS_REFRESH_MS = 15000;
  const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

  /* The contract's actions (docs/CONTRACT.md), in words. */
  const ACTIONS = {
    AddTopic: "Topic created",
    AddPub: "Publish right granted",
    AddSub: "Subscribe right granted",
    RevokePub: "Publish right revoked",
    RevokeSub: "Subscribe right revoked",
    WrongCountry: "Refused: wrong country",
    Banned: "Banned",
    Summary: "Use of a sensitive topic summarised",
    TopicChanged: "Topic settings changed",
    Withdraw: "Payments withdrawn",
    AddReporter: "Reporter added",
    RemoveReporter: "Reporter removed",
    FeeChanged: "Topic fee changed",
    OwnerChanged: "Contract owner changed",
  };

  /* ---- Small helpers -------------------------------------------------- */

  function $(id) {
    return document.getElementById(id);
  }

  /* An element with attributes (or properties for on*, hidden) and children. */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function clear(node, ...children) {
    node.replaceChildren(...children.flat(Infinity).filter((c) => c != null));
  }

  function showError(id, err) {
    const p = $(id);
    if (err) {
      p.textContent = err instanceof Error ? err.message : String(err);
      p.hidden = false;
    } else {
      p.textContent = "";
      p.hidden = true;
    }
  }

  /*
   * GET api/v1/<kind> with the non-empty parameters; resolves to the
   * answer, rejects with the server's error text.
   */
  async function api(kind, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && String(v).trim() !== "")
        q.set(k, String(v).trim());
    }
    const url = "api/v1/" + kind + (q.toString() ? "?" + q : "");
    let r;
    try {
      r = await fetch(url, { headers: { Accept: "application/json" } });
    } catch (e) {
      throw new Error("The audit service cannot be reached.");
    }
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      /* not JSON: reported below */
    }
    if (!r.ok || body === null) {
      const why = body && body.error ? body.error : "HTTP " + r.status;
      throw new Error("The audit service refused the question: " + why);
    }
    return body;
  }

  /* "2026-06-01 10:30:00 UTC" from Unix seconds. */
  function utc(seconds) {
    const n = Number(seconds);
    if (!Number.isFinite(n) || n <= 0) return "—";
    return new Date(n * 1000).toISOString().replace("T", " ").replace(
      /\.\d+Z$/, " UTC");
  }

  function timeEl(seconds) {
    const n = Number(seconds);
    if (!Number.isFinite(n) || n <= 0) return "—";
    return el("time", { datetime: new Date(n * 1000).toISOString() },
      utc(n));
  }

  /* Unix seconds from a datetime-local field read as UTC; "" if empty. */
  function fieldTime(input) {
    if (!input.value) return "";
    const ms = Date.parse(input.value + (input.value.length === 16
      ? ":00Z" : "Z"));
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : "";
  }

  function duration(seconds) {
    const s = Math.round(Number(seconds));
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " days";
  }

  function shortHex(s, head, tail) {
    return s.length > head + tail + 1
      ? s.slice(0, head) + "…" + s.slice(-tail) : s;
  }

  /*
   * An address, short ("0x1a2b…9f0e"), the whole of it on hover, to
   * screen readers and to the clipboard.
   */
  function addr(a) {
    if (!a || a === ZERO_ADDRESS) return el("span", { class: "empty" }, "nobody");
    const full = String(a);
    return el("span", { class: "addr-wrap" },
      el("span", { class: "addr", title: full, "data-address": full },
        el("span", { "aria-hidden": "true" }, shortHex(full, 6, 4)),
        el("span", { class: "visually-hidden" }, full)),
      el("button", {
        type: "button", class: "copy", title: "Copy " + full,
        "aria-label": "Copy address " + full,
        onclick: () => copy(full),
      }, "copy"));
  }

  function copy(text) {
    if (navigator.clipboard) navigator.clipboard.writeText(text).catch(
      () => {});
  }

  function hash(h) {
    if (!h) return "—";
    return el("span", { class: "hash", title: h }, shortHex(String(h), 10, 6));
  }

  function actionCell(name) {
    return [ACTIONS[name] || name, el("span", { class: "raw" }, name)];
  }

  function wei(v) {
    if (v === undefined || v === null || v === "" || String(v) === "0")
      return "free";
    try {
      const w = BigInt(String(v));
      const whole = w / 10n ** 18n;
      const frac = (w % 10n ** 18n).toString().padStart(18, "0")
        .replace(/0+$/, "");
      return whole + (frac ? "." + frac : "") + " ETH";
    } catch (e) {
      return String(v) + " wei";
    }
  }

  /* A table with a caption, column headers and rows of cells. */
  function table(caption, columns, rows) {
    if (!rows.length)
      return el("p", { class: "empty" }, caption + ": none.");
    return el("table", {},
      el("caption", {}, caption),
      el("thead", {}, el("tr", {},
        columns.map((c) => el("th", { scope: "col" }, c)))),
      el("tbody", {}, rows.map((cells) => el("tr", {},
        cells.map((c, i) => i === 0
          ? el("th", { scope: "row" }, c) : el("td", {}, c))))));
  }

  /*
   * Answers arrive in any order: only the latest question of a section
   * may show its answer. Returns a function telling whether this one
   * still is the latest.
   */
  const asked = {};
  function ask(section) {
    const n = (asked[section] = (asked[section] || 0) + 1);
    return () => asked[section] === n;
  }

  function list(answer, key) {
    const v = answer && answer[key];
    return Array.isArray(v) ? v : [];
  }

  function nextCursor(answer) {
    const n = answer && answer.next;
    return n === undefined || n === null || n === "" || n === 0 ? null
      : String(n);
  }

  /* ---- The node line -------------------------------------------------- */

  async function refreshStatus() {
    try {
      const st = await api("status");
      let host = st.node || "";
      try {
        host = new URL(host).host || host;
      } catch (e) {
        /* not a URL: shown as it is */
      }
      clear($("node-host"), host || "unknown");
      clear($("node-contract"), addr(st.contract));
      clear($("node-chain"), String(st.chain_id ?? "unknown"));
      const lag = Number(st.lag_blocks ?? 0);
      const seconds = Number(st.lag_seconds ?? 0);
      const head = st.head_block;
      const lagEl = $("node-lag");
      if (st.node_reachable === false) {
        clear(lagEl, "the node does not answer; the record may be " +
          "behind (block " + st.synced_block + ")");
        lagEl.className = "lag-behind";
      } else if (lag <= 0) {
        clear(lagEl, "up to date with the chain (block " + head + ")");
        lagEl.className = "lag-ok";
      } else {
        clear(lagEl, lag + (lag === 1 ? " block" : " blocks") +
          (seconds > 0 ? " (" + duration(seconds) + ")" : "") +
          " behind the chain's head (block " + head + ")");
        lagEl.className = "lag-behind";
      }
      showError("node-error", null);
    } catch (e) {
      showError("node-error", e);
    }
  }

  /* ---- Topics --------------------------------------------------------- */

  let topics = [];

  /* Every topic entry, a page of 1000 at a time (at most 20 pages). */
  async function loadTopics() {
    let all = [];
    let after = null;
    for (let page = 0; page < 20; page++) {
      const answer = await api("topics", { limit: 1000, after });
      all = all.concat(list(answer, "topics"));
      if ((after = nextCursor(answer)) === null) break;
    }
    topics = all;
    const names = topics.map((t) => t.name);
    const sensitive = topics.filter((t) => t.settings && t.settings.sensitive)
      .map((t) => t.name);
    fillSelect($("holders-topic"), names);
    fillSelect($("summaries-topic"), sensitive.length ? sensitive : names);
    clear($("topic-names"), names.map((n) => el("option", { value: n })));
  }

  function fillSelect(select, names) {
    const keep = select.value;
    clear(select, names.length
      ? names.map((n) => el("option", { value: n }, n))
      : [el("option", { value: "" }, "no topics yet")]);
    if (names.includes(keep)) select.value = keep;
  }

  function fact(term, value) {
    return el("div", {}, el("dt", {}, term), el("dd", {}, value));
  }

  function topicFacts(name) {
    const t = topics.find((x) => x.name === name);
    if (!t) return null;
    const s = t.settings;
    const created = t.created || {};
    const facts = [fact("Owner", addr(t.owner)),
      fact("Created", timeEl(created.time))];
    if (!s) {
      facts.push(fact("Settings", "not read from the contract yet"));
    } else {
      const countries = Array.isArray(s.countries) ? s.countries : [];
      facts.push(
        fact("Sensitive", s.sensitive ? "yes: every access is recorded"
          : "no"),
        fact("Countries", countries.length ? countries.join(", ")
          : "anywhere"),
        fact("Price to publish / subscribe",
          wei(s.pub_price_wei) + " / " + wei(s.sub_price_wei)),
        fact("Open to buyers", s.self_service ? "yes" : "no"));
    }
    return el("dl", { class: "node" }, facts);
  }

  /* ---- Holders -------------------------------------------------------- */

  /* How a right came about: granted, bought, or joined for free. */
  function how(g) {
    if (g.via === "purchase")
      return g.paid ? "bought for " + wei(g.price_wei) : "bought";
    if (g.via === "join") return "joined (free)";
    return "granted by the owner";
  }

  /* A right's end: a time, "until revoked", or not known. */
  function until(v) {
    if (v === "forever") return "until revoked";
    if (typeof v === "number") return timeEl(v);
    return el("span", { class: "empty" }, "not known yet");
  }

  function holderRows(holders) {
    return holders.map((h) => [
      addr(h.address),
      h.reason || el("span", { class: "empty" }, "no reason given"),
      addr(h.granted_by),
      timeEl(h.time),
      how(h),
      until(h.until),
    ]);
  }

  async function showHolders(ev) {
    if (ev) ev.preventDefault();
    const topic = $("holders-topic").value;
    const out = $("holders-result");
    if (!topic) return;
    const latest = ask("holders");
    try {
      const answer = await api("holders", {
        topic, at: fieldTime($("holders-at")),
      });
      if (!latest()) return;
      const cols = ["Address", "Reason", "Given by", "Since", "How",
        "Until"];
      clear(out,
        el("h3", {}, "Topic ", el("code", {}, topic)),
        topicFacts(topic),
        table("May publish on " + topic, cols,
          holderRows(list(answer, "publishers"))),
        table("May subscribe to " + topic, cols,
          holderRows(list(answer, "subscribers"))));
      showError("holders-error", null);
    } catch (e) {
      if (!latest()) return;
      clear(out);
      showError("holders-error", e);
    }
  }

  /* ---- Event search --------------------------------------------------- */

  /* Cursors of the pages shown so far: [null, page 2's, ...]. */
  let eventPages = [null];
  let eventNext = null;

  function eventParams() {
    return {
      topic: $("events-topic").value,
      address: $("events-address").value.toLowerCase(),
      action: $("events-action").value,
      from: fieldTime($("events-from")),
      to: fieldTime($("events-to")),
      limit: $("events-limit").value,
    };
  }

  async function showEvents() {
    const out = $("events-result");
    const after = eventPages[eventPages.length - 1];
    const latest = ask("events");
    try {
      const answer = await api("events",
        Object.assign(eventParams(), { after }));
      if (!latest()) return;
      const rows = list(answer, "events").map((e) => [
        timeEl(e.time),
        actionCell(e.action),
        e.topic ? el("code", {}, e.topic) : "—",
        addr(e.target),
        e.reason || "—",
        addr(e.source),
        el("span", {}, "block " + e.block, el("br"), hash(e.tx)),
      ]);
      clear(out, table("Events, page " + eventPages.length,
        ["When", "What happened", "Topic", "Concerning", "Reason",
          "By", "On chain"], rows));
      eventNext = nextCursor(answer);
      $("events-next").hidden = eventNext === null;
      $("events-prev").hidden = eventPages.length < 2;
      $("events-first").hidden = eventPages.length < 3;
      showError("events-error", null);
    } catch (e) {
      if (!latest()) return;
      clear(out);
      showError("events-error", e);
    }
  }

  /* ---- Summaries ------------------------------------------------------ */

  let summaryNext = null;

  /* A summary's addresses, and how many more it left off the chain. */
  function addrList(addresses, more) {
    const a = Array.isArray(addresses) ? addresses : [];
    const extra = Number(more) || 0;
    if (!a.length && !extra) return el("span", { class: "empty" }, "none");
    return el("ul", { class: "addrs" }, a.map((x) => el("li", {}, addr(x))),
      extra ? el("li", {}, "and " + extra + " more") : null);
  }

  async function showSummaries(ev, more) {
    if (ev) ev.preventDefault();
    const topic = $("summaries-topic").value;
    const out = $("summaries-result");
    if (!topic) return;
    const latest = ask("summaries");
    try {
      const answer = await api("summaries", {
        topic,
        from: fieldTime($("summaries-from")),
        to: fieldTime($("summaries-to")),
        after: more ? summaryNext : null,
      });
      if (!latest()) return;
      const items = list(answer, "summaries");
      const most = Math.max(1, ...items.map((s) => Number(s.records) || 0));
      const rows = items.map((s) => [
        el("span", {}, timeEl(s.period_start), " to ", el("br"),
          timeEl(s.period_end)),
        el("span", {},
          el("meter", {
            min: 0, max: most, value: Number(s.records) || 0,
            "aria-label": (s.records ?? 0) + " accesses recorded",
          }),
          String(s.records ?? "—")),
        s.publishers ? addrList(s.publishers, s.more_publishers)
          : s.reason || "—",
        s.subscribers ? addrList(s.subscribers, s.more_subscribers) : "—",
        hash(s.root),
        el("span", {}, addr(s.reporter), el("br"), hash(s.tx)),
      ]);
      const t = table("Periods of " + topic, ["Period", "Accesses",
        "Published", "Subscribed", "Records root", "Written by"], rows);
      const body = out.querySelector("tbody");
      if (more && body && t.querySelector("tbody"))
        body.append(...t.querySelector("tbody").children);
      else clear(out, t);
      summaryNext = nextCursor(answer);
      $("summaries-next").hidden = summaryNext === null;
      showError("summaries-error", null);
    } catch (e) {
      if (!latest()) return;
      if (!more) clear(out);
      showError("summaries-error", e);
    }
  }

  /* ---- Alerts --------------------------------------------------------- */

  let alertNext = null;

  /* What an alert's text says, in words (docs/IPC.md, logAlert). */
  function alertDetails(a) {
    if (a.action === "Banned") {
      if (a.until === undefined) return a.reason || "—";
      const end = typeof a.until === "number"
        ? el("span", {}, "until ", timeEl(a.until)) : "until lifted by hand";
      return [a.why || "no reason given", el("br"), end];
    }
    if (a.action === "WrongCountry") {
      const parts = [];
      if (a.attempt) parts.push("tried to " + a.attempt);
      if (a.country) parts.push("from country " + a.country);
      return parts.length ? parts.join(", ") : a.reason || "—";
    }
    return a.reason || "—";
  }

  /* Whom a ban names: an address, an IP (by fingerprint), a range. */
  function alertSubject(a) {
    if (a.action === "WrongCountry") {
      const ip = a.ip ? ["IP address ", a.ip]
        : a.ip_hash ? ["IP fingerprint ", hash(a.ip_hash.slice(8))] : [];
      return [a.topic ? ["topic ", el("code", {}, a.topic)] : "—",
        ip.length ? el("br") : null, ip];
    }
    const name = String(a.subject ?? a.topic ?? "");
    if (name === "address") return "the client's address";
    if (name.startsWith("ip-hmac:"))
      return ["IP fingerprint ", hash(name.slice(8))];
    if (name.startsWith("ip:")) return ["IP address ", name.slice(3)];
    if (name.startsWith("net:")) return ["IP range ", name.slice(4)];
    return name || "—";
  }

  async function showAlerts(ev, more) {
    if (ev) ev.preventDefault();
    const out = $("alerts-result");
    const latest = ask("alerts");
    try {
      const answer = await api("alerts", {
        action: $("alerts-action").value,
        from: fieldTime($("alerts-from")),
        to: fieldTime($("alerts-to")),
        after: more ? alertNext : null,
      });
      if (!latest()) return;
      const rows = list(answer, "alerts").map((a) => [
        timeEl(a.time),
        el("span", {
          class: a.action === "Banned" ? "tag tag-bad" : "tag",
        }, ACTIONS[a.action] || a.action),
        addr(a.target),
        alertSubject(a),
        alertDetails(a),
        addr(a.source),
      ]);
      const t = table("Alerts", ["When", "Kind", "Client address",
        "Subject", "Details", "Reported by"], rows);
      const body = out.querySelector("tbody");
      if (more && body && t.querySelector("tbody"))
        body.append(...t.querySelector("tbody").children);
      else clear(out, t);
      alertNext = nextCursor(answer);
      $("alerts-next").hidden = alertNext === null;
      showError("alerts-error", null);
    } catch (e) {
      if (!latest()) return;
      if (!more) clear(out);
      showError("alerts-error", e);
    }
  }

  /* ---- Wiring --------------------------------------------------------- */

  function start() {
    const actions = $("events-action");
    for (const [name, words] of Object.entries(ACTIONS))
      actions.append(el("option", { value: name }, words));

    $("holders-form").addEventListener("submit", showHolders);
    $("holders-topic").addEventListener("change", () => showHolders());
    $("events-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      eventPages = [null];
      showEvents();
    });
    $("events-next").addEventListener("click", () => {
      eventPages.push(eventNext);
      showEvents();
    });
    $("events-prev").addEventListener("click", () => {
      eventPages.pop();
      showEvents();
    });
    $("events-first").addEventListener("click", () => {
      eventPages = [null];
      showEvents();
    });
    $("summaries-form").addEventListener("submit", showSummaries);
    $("summaries-next").addEventListener("click",
      () => showSummaries(null, true));
    $("alerts-form").addEventListener("submit", showAlerts);
    $("alerts-next").addEventListener("click", () => showAlerts(null, true));

    refreshStatus();
    setInterval(refreshStatus, STATUS_REFRESH_MS);
    loadTopics().then(() => {
      showHolders();
      showSummaries();
    }, (e) => showError("holders-error", e));
    showEvents();
    showAlerts();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
