// cartd console: pages over the public API (api.js). Everything is built with DOM calls from
// data as text, never as HTML, so nothing a shop or shopper stored can run in the page.
import { ApiError, call, enc, forgetKey, get, key, list, metrics, setKey, sum as sumOf } from "./api.js";
import { Chart } from "./charts.js";

const $ = (id) => document.getElementById(id);

// h builds an element: h("td", {class: "n"}, "text", child, ...).
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// put replaces el's children with the nodes given, leaving out null and undefined.
function put(el, ...nodes) { el.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false)); }

function table(caption, headers, rows) {
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
}

// ---- status, errors and loading ----

function say(text) { $("status").textContent = text; }
function showError(err) {
  const box = $("alert");
  const detail = err instanceof ApiError ? err.message : String(err);
  const code = err instanceof ApiError && err.problem && err.problem.code ? ` (${err.problem.code}, HTTP ${err.status})` : "";
  put(box, h("strong", {}, "Failed: "), detail + code);
  box.hidden = false;
  say("");
}
function clearError() { $("alert").hidden = true; $("alert").replaceChildren(); }

// loading runs fn with region marked busy and a status line, reporting a failure in the alert.
async function loading(region, what, fn) {
  clearError();
  region.setAttribute("aria-busy", "true");
  say(`Loading ${what}…`);
  try {
    const r = await fn();
    say("");
    return r;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signOut("The key was refused: sign in again.");
    else showError(err);
    return undefined;
  } finally {
    region.removeAttribute("aria-busy");
  }
}

// confirm asks in a modal dialog; Cancel has the focus, Escape cancels.
function confirmAction(text, ok = "Confirm") {
  const d = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  d.returnValue = "cancel";
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.showModal();
    $("confirm-cancel").focus();
  });
}

// ---- formatting ----

const digitsOf = {};
function money(minor, currency) {
  if (minor === null || minor === undefined) return "–";
  if (!(currency in digitsOf)) {
    try {
      digitsOf[currency] = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    } catch { digitsOf[currency] = 2; }
  }
  const d = digitsOf[currency];
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: d, maximumFractionDigits: d }).format(minor / 10 ** d);
  } catch { return `${minor} ${currency} (minor units)`; }
}
function when(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }

// countdown is a <time> the ticker keeps saying how long until iso.
function countdown(iso) {
  if (!iso) return "–";
  const t = h("time", { datetime: iso, class: "countdown", dataset: { until: iso } });
  tick(t);
  return t;
}
function tick(t) {
  const left = Math.floor((Date.parse(t.dataset.until) - Date.now()) / 1000);
  if (left <= 0) {
    t.textContent = "lapsed";
    t.classList.add("lapsed");
    return;
  }
  const hms = [Math.floor(left / 3600), Math.floor(left / 60) % 60, left % 60];
  t.textContent = (hms[0] ? `${hms[0]}:` : "") + hms.slice(1).map((n) => String(n).padStart(2, "0")).join(":") + " left";
}
setInterval(() => document.querySelectorAll("time[data-until]").forEach(tick), 1000);

// ---- sign-in and pages ----

let figuresTimer = null;

function showPage(name) {
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== `page-${name}`;
  for (const b of document.querySelectorAll("#nav button")) {
    if (b.dataset.page === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  clearInterval(figuresTimer);
  figuresTimer = null;
  clearError();
  say("");
  if (name === "figures") startFigures();
  if (name === "offers") loadOffers();
  const heading = document.querySelector(`#page-${name} h2`);
  if (heading) { heading.tabIndex = -1; heading.focus(); }
}

function signedIn() {
  $("nav").hidden = false;
  $("signout").hidden = false;
  showPage("carts");
}

function signOut(why = "") {
  forgetKey();
  $("nav").hidden = true;
  $("signout").hidden = true;
  showPage("signin");
  say(why);
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const k = $("key").value.trim();
  setKey(k);
  $("key").value = "";
  const ok = await loading($("page-signin"), "your key", async () => {
    // A key that can list carts and read settings is one the console can work with.
    await get("/v1/carts?limit=1");
    await get("/v1/settings");
    return true;
  });
  if (ok) signedIn();
  else forgetKey();
});
$("signout").addEventListener("click", () => signOut("Signed out."));
for (const b of document.querySelectorAll("#nav button")) b.addEventListener("click", () => showPage(b.dataset.page));

// ---- carts ----

function cartButton(id) {
  return h("button", { type: "button", class: "link", onclick: () => openCart(id) }, id);
}

function pager(page, more) {
  return page.has_more ? h("button", { type: "button", onclick: more }, "Next page") : null;
}

async function findCarts(by, q, after) {
  const out = $("cart-results");
  $("cart-detail").replaceChildren();
  if (by === "id") {
    if (!q) return;
    put(out);
    return openCart(q);
  }
  if (by === "sku") {
    if (!q) return;
    const page = await loading(out, `the carts holding ${q}`, () =>
      list(`/v1/inventory/${enc(q)}/reservations`, { limit: 50, starting_after: after }));
    if (!page) return;
    const rows = page.data.map((r) => h("tr", {},
      h("td", {}, cartButton(r.cart_id)), h("td", {}, r.customer_id ?? "guest"), h("td", { class: "n" }, r.reserved_quantity),
      h("td", {}, countdown(r.reserved_until))));
    put(out, page.data.length
      ? table(`Carts holding ${q}`, ["Cart", "Customer", "Units held", "Hold lapses"], rows)
      : h("p", {}, `No cart holds ${q}.`),
    pager(page, () => findCarts(by, q, page.data.at(-1).item_id)));
    return;
  }
  const params = { limit: 20, starting_after: after };
  if (by === "customer") params.customer_id = q;
  const page = await loading(out, "carts", () => list("/v1/carts", params));
  if (!page) return;
  const rows = page.data.map((c) => h("tr", {},
    h("td", {}, cartButton(c.id)), h("td", {}, c.customer_id ?? "guest"), h("td", {}, c.status),
    h("td", { class: "n" }, c.unique_item_count), h("td", { class: "n" }, c.item_count), h("td", {}, when(c.last_activity))));
  put(out, page.data.length
    ? table(by === "customer" ? `Carts of ${q}` : "Carts, newest first", ["Cart", "Customer", "Status", "Lines", "Units", "Last activity"], rows)
    : h("p", {}, "No carts found."),
  pager(page, () => findCarts(by, q, page.data.at(-1).id)));
}

$("cart-find").addEventListener("submit", (ev) => {
  ev.preventDefault();
  findCarts($("cart-by").value, $("cart-q").value.trim());
});
$("cart-recent").addEventListener("click", () => findCarts("recent", ""));

async function openCart(id) {
  const out = $("cart-detail");
  const r = await loading(out, id, () => get(`/v1/carts/${enc(id)}`));
  if (r) renderCart(r.body);
}

function lineRows(items, currency) {
  return items.map((it) => h("tr", { dataset: { item: it.id } },
    h("td", {}, it.sku), h("td", {}, it.product_name), h("td", { class: "n" }, it.quantity),
    h("td", { class: "n", dataset: { held: it.id } }, it.reserved_quantity),
    h("td", { class: "n" }, money(it.unit_price, currency)), h("td", { class: "n" }, money(it.total, currency)),
    h("td", {}, it.expired ? h("span", { class: "lapsed" }, "lapsed") : countdown(it.reserved_until)),
    h("td", {}, it.unavailable_reason ? `unavailable: ${it.unavailable_reason}` : it.inventory_status)));
}

function renderCart(c) {
  const out = $("cart-detail");
  const cur = c.currency;
  const totals = [["Subtotal", c.subtotal], ["Discount", c.discount], ["Tax", c.tax], ["Shipping", c.shipping], ["Total", c.total]];
  const release = h("button", { type: "button", class: "danger", disabled: c.status !== "active",
    onclick: () => releaseCart(c) }, "Release reservations");
  put(out, h("article", { "aria-labelledby": "cart-title", id: "cart-view", dataset: { cart: c.id, version: c.version } },
    h("h3", { id: "cart-title" }, `${c.id}`),
    h("p", {}, `Customer ${c.customer_id ?? "none (guest cart)"} · ${c.status} · version ${c.version} · ${c.item_count} units held in totals, ${c.expired} lapsed · last activity ${when(c.last_activity)}`),
    table("Lines", ["SKU", "Product", "Quantity", "Reserved", "Unit price", "Total", "Hold lapses", "Stock"], lineRows(c.items, cur)),
    c.unavailable_items.length ? table("Unavailable lines", ["SKU", "Product", "Quantity", "Reserved", "Unit price", "Total", "Hold lapses", "Why"], lineRows(c.unavailable_items, cur)) : null,
    h("dl", { class: "totals" }, totals.map(([k, v]) => [h("dt", {}, k), h("dd", {}, money(v, cur))])),
    c.coupons.length ? h("p", {}, "Promotions: ", c.coupons.map((p) => `${p.code} (${p.applied ? "applies" : p.reason})`).join(", ")) : null,
    c.messages.length ? h("section", { "aria-label": "Messages" }, h("h4", {}, "Messages"),
      h("ul", {}, c.messages.map((m) => h("li", { class: m.type }, `${m.code}: ${m.message}`)))) : null,
    h("p", {}, release, " gives back every unit the lines hold, as if their holds lapsed now."),
    h("section", { "aria-labelledby": "timeline-h", class: "timeline" },
      h("div", { class: "row" }, h("h4", { id: "timeline-h" }, "Timeline"),
        h("button", { type: "button", id: "cart-refresh", onclick: () => openCart(c.id) }, "Refresh the cart and its timeline")),
      h("p", { class: "muted" }, "This cart's events, oldest first, as GET /v1/events?cart_id= gives them (the key needs events:read)."),
      h("div", { id: "cart-timeline" }))));
  loadTimeline(c.id, $("cart-timeline"));
}

// ---- a cart's timeline ----

// eventWhat says in words what an event's data records (docs/events.md lists each type's).
function eventWhat(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case "cart.created": return `opened ${d.customer_id ? `for customer ${d.customer_id}` : "as a guest cart"}, in ${d.currency}`;
    case "cart.item.added": return `${d.sku}: ${d.quantity} added (line ${d.item_id})`;
    case "cart.item.quantity_changed": return `${d.sku}: ${d.from} → ${d.to} (line ${d.item_id})`;
    case "cart.item.removed": return `${d.sku}: line removed, it had ${d.quantity} (line ${d.item_id})`;
    case "cart.merged": return `${d.from} merged into ${d.into}`;
    case "cart.checked_out": return `checked out: ${d.item_count ?? "?"} units, total ${money(d.total, d.currency)}`;
    case "cart.abandoned": return `untouched for ${Math.round((d.idle_seconds || 0) / 60)} min since ${when(d.last_activity)}`;
    case "cart.purged": return `deleted by housekeeping, last active ${when(d.last_activity)}`;
    case "cart.updated": return "changed (metadata, notes, coupons, a price or its customer): the cart shows what it is now";
    case "reservation.released": return `${d.sku}: ${d.units} units went back to stock (line ${d.item_id})`;
    default: return JSON.stringify(d);
  }
}

// loadTimeline reads a cart's events page by page (500 at a time, oldest first) into box,
// adding each further page below on request.
async function loadTimeline(id, box, after = 0, rows = null) {
  box.setAttribute("aria-busy", "true");
  const waiting = h("p", { class: "muted" }, after ? "Loading later events…" : "Loading the timeline…");
  if (!rows) put(box, waiting);
  else box.append(waiting);
  let page;
  try {
    page = await list("/v1/events", { cart_id: id, after, limit: 500 });
  } catch (err) {
    waiting.remove();
    if (err instanceof ApiError && err.status === 401) { signOut("The key was refused: sign in again."); return; }
    const why = err instanceof ApiError && err.status === 403
      ? "This key cannot read events: the timeline needs the events:read scope (an admin key has it)."
      : `The timeline could not be read: ${err.message}${err instanceof ApiError && err.problem.code ? ` (${err.problem.code}, HTTP ${err.status})` : ""}`;
    box.append(h("p", { role: "alert", class: "alert" }, why));
    return;
  } finally {
    box.removeAttribute("aria-busy");
  }
  waiting.remove();
  const more = page.data.map((ev) => h("tr", { dataset: { type: ev.type, seq: ev.seq } },
    h("td", { class: "n" }, ev.seq),
    h("td", {}, h("time", { datetime: ev.occurred_at }, when(ev.occurred_at))),
    h("td", {}, ev.type),
    h("td", { class: "n" }, ev.cart_version ?? "–"),
    h("td", {}, eventWhat(ev)),
    h("td", {}, ev.data?.cause ?? ev.data?.reason ?? "–"),
    h("td", {}, ev.request_id ? h("code", {}, ev.request_id) : "cartd itself")));
  if (!rows) {
    if (!more.length) {
      put(box, h("p", {}, "No events of this cart are kept (they are purged after --event-retention)."));
      return;
    }
    const t = table(`Events of ${id}, oldest first`, ["Seq", "When", "Event", "Cart version", "What changed", "Cause", "Request"], more);
    put(box, t);
    rows = t.querySelector("tbody");
  } else {
    rows.append(...more);
  }
  box.querySelector("button.later")?.remove();
  if (page.has_more) {
    box.append(h("button", { type: "button", class: "later", onclick: () => loadTimeline(id, box, page.data.at(-1).seq, rows) }, "Show later events"));
  }
}

async function releaseCart(c) {
  if (!(await confirmAction(`Release every reservation of ${c.id} (version ${c.version})? Its lines stay in the cart, lapsed, and their stock becomes available to other shoppers.`, "Release"))) return;
  const out = $("cart-detail");
  const r = await loading(out, `the release of ${c.id}`, async () => {
    try {
      return await call("POST", `/v1/carts/${enc(c.id)}/reservations/release`, { ifMatch: `"${c.version}"` });
    } catch (err) {
      if (err instanceof ApiError && err.problem.cart) renderCart(err.problem.cart); // show the cart as it is now
      throw err;
    }
  });
  if (r) {
    renderCart(r.body);
    say(`Released the reservations of ${c.id}.`);
  }
}

// ---- stock ----

let lastStock = null;

async function listStock(prefix, low, after) {
  lastStock = { prefix, low, after };
  const out = $("stock-results");
  const page = await loading(out, "stock", () => list("/v1/inventory", { sku_prefix: prefix, low_stock: low, limit: 50, starting_after: after }));
  if (!page) return;
  const rows = page.data.map((s) => h("tr", {},
    h("td", {}, h("button", { type: "button", class: "link", onclick: () => openStock(s.sku) }, s.sku)),
    h("td", { class: "n" }, s.on_hand), h("td", { class: "n" }, s.reserved), h("td", { class: "n" }, s.available), h("td", { class: "n" }, s.backordered)));
  put(out, page.data.length ? table("SKUs", ["SKU", "On hand", "Reserved", "Available", "Backordered"], rows) : h("p", {}, "No SKU matches."),
    pager(page, () => listStock(prefix, low, page.data.at(-1).sku)));
}

$("stock-find").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("stock-q").value.trim();
  const low = $("stock-low").value.trim();
  $("stock-detail").replaceChildren();
  listStock(q, low);
});

async function openStock(sku) {
  const out = $("stock-detail");
  const r = await loading(out, sku, async () => {
    const st = await get(`/v1/inventory/${enc(sku)}`);
    const holds = await list(`/v1/inventory/${enc(sku)}/reservations`, { limit: 100 });
    return { st, holds };
  });
  if (r) renderStock(r.st.body, r.st.etag, r.holds);
}

function renderStock(s, etag, holds) {
  const out = $("stock-detail");
  const figures = [["on_hand", "On hand"], ["reserved", "Reserved"], ["available", "Available"], ["backordered", "Backordered"]];
  const delta = h("input", { id: "stock-delta", type: "number", step: "1", required: true, inputmode: "numeric" });
  const form = h("form", { class: "row", onsubmit: (ev) => { ev.preventDefault(); adjustStock(s, etag, Number(delta.value)); } },
    h("label", { for: "stock-delta" }, "Change on hand by"), delta, h("button", { type: "submit" }, "Adjust stock"));
  const rows = holds.data.map((r) => h("tr", {},
    h("td", {}, h("button", { type: "button", class: "link", onclick: () => { showPage("carts"); openCart(r.cart_id); } }, r.cart_id)),
    h("td", {}, r.item_id), h("td", {}, r.customer_id ?? "guest"), h("td", { class: "n" }, r.reserved_quantity),
    h("td", {}, r.expired ? h("span", { class: "lapsed" }, "lapsed") : countdown(r.reserved_until))));
  put(out, h("article", { "aria-labelledby": "stock-title", id: "stock-view", dataset: { sku: s.sku } },
    h("h3", { id: "stock-title" }, s.sku),
    h("dl", { class: "figures", id: "stock-figures" }, figures.map(([k, label]) => [h("dt", {}, label), h("dd", { dataset: { figure: k } }, s[k])])),
    h("p", { class: "muted" }, `Version ${s.version} · updated ${when(s.updated_at)}`),
    form,
    holds.data.length ? table(`Carts holding ${s.sku}`, ["Cart", "Line", "Customer", "Units held", "Hold lapses"], rows) : h("p", {}, "No cart holds this SKU."),
    holds.has_more ? h("p", {}, "More carts hold it than are shown (the first 100).") : null));
}

async function adjustStock(s, etag, delta) {
  if (!Number.isInteger(delta) || delta === 0) {
    showError(new Error("Enter a whole number of units other than 0 (negative takes units away)."));
    return;
  }
  const sign = delta > 0 ? `+${delta}` : `${delta}`;
  if (!(await confirmAction(`Change the on-hand stock of ${s.sku} by ${sign} (from ${s.on_hand} to ${s.on_hand + delta})?`, "Adjust"))) return;
  const out = $("stock-detail");
  const r = await loading(out, `the stock of ${s.sku}`, () =>
    call("PATCH", `/v1/inventory/${enc(s.sku)}`, { body: { on_hand_delta: delta }, ifMatch: etag }));
  if (r) {
    await openStock(s.sku);
    if (lastStock) await listStock(lastStock.prefix, lastStock.low, lastStock.after);
    say(`On hand of ${s.sku} is now ${r.body.on_hand}.`);
  }
}

// ---- live figures ----

const series = [
  { id: "quantity", title: "Quantity changes per second", rate: true,
    read: (ms) => sumOf(ms, "cartd_quantity_changes_total", { outcome: ["set", "removed", "clamped", "backordered"] }) },
  { id: "refused", title: "Changes refused for stock (409) per second", rate: true,
    read: (ms) => sumOf(ms, "cartd_quantity_changes_total", { outcome: "rejected" }) },
  { id: "reserved", title: "Units reserved by carts", rate: false,
    read: (ms) => sumOf(ms, "cartd_reservations_held_units") },
  { id: "released", title: "Units released by lapsed holds per second", rate: true,
    read: (ms) => sumOf(ms, "cartd_reservations_released_units_total", { reason: ["expired", "unavailable"] }) },
];

let charts = null;
let last = null;

function startFigures() {
  const box = $("charts");
  if (!charts) {
    charts = series.map((s) => new Chart(s.id, s.title));
    put(box, ...charts.map((c) => c.element));
  }
  const read = async () => {
    try {
      const ms = await metrics();
      const now = Date.now();
      const values = series.map((s) => s.read(ms));
      series.forEach((s, i) => {
        if (!s.rate) charts[i].push(values[i]);
        else if (last) charts[i].push(Math.max(0, (values[i] - last.values[i]) / ((now - last.at) / 1000)));
        else charts[i].waiting();
      });
      last = { at: now, values };
      clearError();
    } catch (err) {
      showError(err);
    }
  };
  read();
  figuresTimer = setInterval(read, 2000);
}

// ---- promotions and sales ----

function promotionStatus(p, now = Date.now()) {
  if (!p.active) return "inactive";
  if (p.starts_at && Date.parse(p.starts_at) > now) return "scheduled";
  if (p.ends_at && Date.parse(p.ends_at) <= now) return "ended";
  return "running";
}

async function loadOffers() {
  const promos = $("promotions");
  const pp = await loading(promos, "promotions", () => list("/v1/promotions", { limit: 500 }));
  if (pp) {
    const rows = pp.data.map((p) => h("tr", {},
      h("td", {}, p.code), h("td", {}, p.name), h("td", {}, p.type), h("td", {}, p.method), h("td", {}, promotionStatus(p)),
      h("td", {}, `${when(p.starts_at)} – ${when(p.ends_at)}`),
      h("td", {}, h("button", { type: "button", class: "danger", onclick: () => withdraw(p) }, `Withdraw ${p.code}`))));
    put(promos, pp.data.length ? table("Promotions", ["Code", "Name", "Type", "Method", "Status", "Window", ""], rows) : h("p", {}, "No promotions."),
      pp.has_more ? h("p", {}, "Only the newest 500 are shown.") : null);
  }
  const sales = $("sales");
  const sp = await loading(sales, "sales", () => list("/v1/sales", { limit: 500 }));
  if (sp) {
    const rows = sp.data.map((s) => h("tr", {}, h("td", {}, s.id), h("td", {}, s.name), h("td", {}, s.status), h("td", {}, when(s.starts_at)), h("td", {}, when(s.ends_at))));
    put(sales, sp.data.length ? table("Sales", ["Id", "Name", "Status", "Starts", "Ends"], rows) : h("p", {}, "No sales."));
  }
}

async function withdraw(listed) {
  // Read it again for its ETag: the withdrawal applies only to the promotion as confirmed.
  const r = await loading($("promotions"), listed.code, () => get(`/v1/promotions/${enc(listed.code)}`));
  if (!r) return;
  if (r.body.updated_at !== listed.updated_at) {
    await loadOffers();
    showError(new Error(`${listed.code} changed since the list was read; it is shown as it is now.`));
    return;
  }
  if (!(await confirmAction(`Withdraw promotion ${listed.code} (${promotionStatus(r.body)})? It stops applying to every cart.`, "Withdraw"))) return;
  const done = await loading($("promotions"), `the withdrawal of ${listed.code}`, () =>
    call("DELETE", `/v1/promotions/${enc(listed.code)}`, { ifMatch: r.etag }));
  if (done) {
    await loadOffers();
    say(`Withdrew ${listed.code}.`);
  }
}

// ---- start ----

if (key()) signedIn();
else showPage("signin");
