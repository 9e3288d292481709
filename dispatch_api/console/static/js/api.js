// The public HTTP API, called with the session cookie; state-changing calls carry the CSRF
// token the sign-in answered. Problem details (RFC 9457) become ApiError.

import { problemText } from "./i18n.js";

let csrf = null;

export function setCsrf(token) { csrf = token; }

export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(problem || {}, status)); // in the page's language
    this.status = status;
    this.problem = problem || {};
  }
}

export async function api(method, path, body, { contentType = "application/json" } = {}) {
  const headers = {};
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    headers["Content-Type"] = contentType;
    init.body = contentType === "application/json" ? JSON.stringify(body) : body;
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    if (res.status === 401 && path !== "/console/session") {
      window.dispatchEvent(new CustomEvent("countyroute:signed-out"));
    }
    throw new ApiError(res.status, typeof data === "object" ? data : { detail: data });
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body, opts) => api("POST", path, body, opts);

/** Follow a job until it ends; onTick(job, elapsed_s) after each poll. */
export async function followJob(jobId, onTick, { every = 400, stopped = () => false } = {}) {
  const started = performance.now();
  for (;;) {
    const job = await get(`/jobs/${jobId}`);
    onTick(job, (performance.now() - started) / 1000);
    if (job.status === "succeeded" || job.status === "failed" || job.status === "cancelled" || stopped()) return job;
    await new Promise((r) => setTimeout(r, every));
  }
}
