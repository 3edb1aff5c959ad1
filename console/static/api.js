// The console's only way to cartd: the public API, with the admin key from session storage.

const KEY = "cartd.console.key";

export function key() { return sessionStorage.getItem(KEY) || ""; }
export function setKey(k) { sessionStorage.setItem(KEY, k); }
export function forgetKey() { sessionStorage.removeItem(KEY); }

// ApiError carries a failed call's problem+json (RFC 9457): its detail is what the console
// shows.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// call sends a request and returns {status, etag, body}; a status of 400 and above throws an
// ApiError with the problem's detail.
export async function call(method, path, { body, ifMatch } = {}) {
  const headers = { "Authorization": `Bearer ${key()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch) headers["If-Match"] = ifMatch;
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, { detail: `cartd did not answer (${e.message})` });
  }
  const text = await resp.text();
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = null; }
  }
  if (resp.status >= 400) {
    throw new ApiError(resp.status, parsed || { detail: `HTTP ${resp.status}` });
  }
  return { status: resp.status, etag: resp.headers.get("ETag"), body: parsed };
}

export const get = (path) => call("GET", path);

// list reads one page of a list endpoint ({object: "list", data, has_more}).
export async function list(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const qs = q.toString();
  return (await get(qs ? `${path}?${qs}` : path)).body;
}

export const enc = encodeURIComponent;

// metrics reads /metrics (Prometheus text) into {name: [{labels, value}]}.
export async function metrics() {
  let resp;
  try {
    resp = await fetch("/metrics", { cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, { detail: `cartd did not answer (${e.message})` });
  }
  const text = await resp.text();
  if (resp.status !== 200 || !(resp.headers.get("Content-Type") || "").startsWith("text/plain")) {
    throw new ApiError(resp.status, { detail: "/metrics is not served on this address (cartd --metrics-addr serves it elsewhere)" });
  }
  const out = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    }
    (out[m[1]] ||= []).push({ labels, value: Number(m[4]) });
  }
  return out;
}

// sum adds the samples of a metric whose labels match every given label.
export function sum(ms, name, match = {}) {
  let total = 0;
  for (const s of ms[name] || []) {
    if (Object.entries(match).every(([k, v]) => (Array.isArray(v) ? v.includes(s.labels[k]) : s.labels[k] === v))) total += s.value;
  }
  return total;
}
