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

/** Call the API. With ``timeout_ms``, a request not answered (its body read) within that time
 *  is aborted: it rejects with the browser's AbortError, as a request that got no answer. */
export async function api(method, path, body, { contentType = "application/json", timeout_ms = 0 } = {}) {
  const headers = {};
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    headers["Content-Type"] = contentType;
    init.body = contentType === "application/json" ? JSON.stringify(body) : body;
  }
  let timer = null;
  if (timeout_ms > 0) {
    const abort = new AbortController();
    init.signal = abort.signal;
    timer = setTimeout(() => abort.abort(), timeout_ms);
  }
  let res, data;
  try {
    res = await fetch(path, init);
    if (res.status === 204) return null;
    const type = res.headers.get("content-type") || "";
    data = type.includes("json") ? await res.json() : await res.text();
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  if (!res.ok) {
    if (res.status === 401 && path !== "/console/session") {
      window.dispatchEvent(new CustomEvent("countyroute:signed-out"));
    }
    throw new ApiError(res.status, typeof data === "object" ? data : { detail: data });
  }
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body, opts);

/** How a job is followed through a server that stops answering for a while (a rolling
 *  restart, a proxy's 502): its status is asked again after 1, 2, 4 and 8 s, then every 15 s,
 *  and following ends with an error when a try fails once the server has not answered for two
 *  minutes (the last wait is shortened to try at that bound). */
const RECONNECT = { first_ms: 1000, max_ms: 15000, give_up_ms: 120000 };

/** How long one status request may go unanswered before it counts as no answer (a server
 *  that took the connection and hangs would otherwise hold the following for good). */
const POLL_TIMEOUT_MS = 20000;

/** Following a job ended because the server had not answered for ``waited_s`` seconds; ``cause``
 *  is the last failure (an ApiError, or the browser's error when no answer came at all). */
export class LostContact extends Error {
  constructor(cause, waited_s) {
    super(cause.message, { cause });
    this.waited_s = waited_s;
  }
}

/** A failure that a restarting server or its proxy gives and that asking again may cure: no
 *  answer at all (the fetch rejected, the answer could not be read), 5xx, 408 or 429. A 401
 *  and every other 4xx are answers about the request itself. */
export function transient(err) {
  if (!(err instanceof ApiError)) return true;
  return err.status >= 500 || err.status === 408 || err.status === 429;
}

let followed = 0; // jobs followed now, shown as body[data-jobs-followed] (tests wait for 0)

/** Follow a job until it ends or ``stopped()`` (the view was left); resolves with the last
 *  state seen. onTick(job, elapsed_s) after each answer; after a transient failure,
 *  onRetry(tries, err) and the status is asked again after a growing wait (RECONNECT); a
 *  status request unanswered after POLL_TIMEOUT_MS is such a failure. ``started`` (a
 *  performance.now() time) is when following began, for a job followed on after the page
 *  was drawn again (the elapsed time goes on from there). Rejects with the failure at once
 *  when it is not transient, with LostContact when a try fails once the server has not
 *  answered for RECONNECT.give_up_ms. */
export async function followJob(job, onTick, { every = 400, stopped = () => false, onRetry = () => {}, started = performance.now() } = {}) {
  let last = job, tries = 0, answered = performance.now();
  document.body.dataset.jobsFollowed = String(++followed);
  try {
    for (;;) {
      if (stopped()) return last;
      let answer;
      try {
        answer = await get(`/jobs/${job.id}`, { timeout_ms: POLL_TIMEOUT_MS });
      } catch (err) {
        if (stopped()) return last;
        if (!transient(err)) throw err;
        const silent = performance.now() - answered;
        if (silent >= RECONNECT.give_up_ms) throw new LostContact(err, silent / 1000);
        // the last try comes at the bound, not after it
        const wait = Math.min(RECONNECT.max_ms, RECONNECT.first_ms * 2 ** tries, RECONNECT.give_up_ms - silent);
        tries += 1;
        onRetry(tries, err);
        await pause(wait, every, stopped);
        continue;
      }
      tries = 0;
      answered = performance.now();
      last = answer;
      onTick(answer, (performance.now() - started) / 1000);
      if (answer.status === "succeeded" || answer.status === "failed" || answer.status === "cancelled") return answer;
      await pause(every, every, stopped);
    }
  } finally {
    document.body.dataset.jobsFollowed = String(--followed);
  }
}

/** Wait ``ms``, in steps of ``step`` ms so that a view left during a long wait stops it. */
async function pause(ms, step, stopped) {
  for (let waited = 0; waited < ms && !stopped(); waited += step) {
    await new Promise((r) => setTimeout(r, Math.min(step, ms - waited)));
  }
}
