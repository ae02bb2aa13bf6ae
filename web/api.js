// One fetch wrapper: JSON in and out, the session cookie, and a hook for 401 (back to the log-in page).
// The server answers errors in the language asked for (Accept-Language): the UI's own.
import { currentLang } from "./i18n.js";

export const API = "api/v1";
let onUnauthorised = () => {};
export function setUnauthorisedHandler(fn) { onUnauthorised = fn; }

export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body?.detail === "string" ? body.detail : JSON.stringify(body?.detail ?? body));
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body, headers = {}, quiet401 = false } = {}) {
  const res = await fetch(`${API}${path}`, {
    method,
    credentials: "same-origin",
    headers: {
      "Accept-Language": currentLang() === "en" ? "en" : "zh-CN",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (res.status === 401 && !quiet401) onUnauthorised();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    (Array.isArray(v) ? v : [v]).forEach((x) => p.append(k, x));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}
