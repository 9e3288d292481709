// The day board: network and date; the day's orders (drag and drop a CSV; rejected rows named
// by row and field, nothing stored); start a plan with a budget and follow its job; the day's
// plans.

import { ApiError, LostContact, followJob, get, post, transient } from "./api.js";
import { clear, field, h, message } from "./dom.js";
import { day as fmtDay, has, inputErrorText, jobErrorText, lang, locationText, num, t } from "./i18n.js";

const today = () => new Date().toISOString().slice(0, 10);

export async function dayBoard(view, session) {
  const networks = await get("/networks");
  const stored = JSON.parse(localStorage.getItem("countyroute.day") || "{}");
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  let network = params.get("network") || stored.network || (networks[0] && networks[0].name) || "";
  let date = params.get("date") || stored.date || today();
  let stopped = false; // the job panel no longer follows its job (the view was left, or Cancel failed)
  let left = false; // the view was left

  const page = h("div", { class: "day-board" });
  clear(view).append(page);
  if (!networks.length) {
    page.append(h("section", { class: "card" }, h("p", {}, t("no_networks")),
      h("button", { type: "button", id: "import-builtin", onclick: async () => { await post("/networks", { builtin: "yanshi" }); dayBoard(view, session); } }, t("import_builtin"))));
    return () => {};
  }

  const netSelect = h("select", {}, networks.map((n) => h("option", { value: n.name, selected: n.name === network }, n.name)));
  const dateInput = h("input", { type: "date", value: date, required: true });
  const title = h("h1", {});
  const ordersInfo = h("p", { id: "orders-count" });
  const uploadOut = h("div", { id: "upload-result", "aria-live": "polite" });
  const fileInput = h("input", { type: "file", accept: ".csv,text/csv", class: "visually-hidden" });
  const drop = h("div", { class: "dropzone", id: "dropzone", tabindex: "0", role: "button", "aria-label": t("drop_csv") },
    h("p", {}, t("drop_csv")), h("label", { class: "button" }, t("choose_file"), fileInput));
  const budget = h("input", { type: "number", min: "1", max: "600", step: "1", value: "3", required: true });
  const jobOut = h("div", { id: "job", "aria-live": "polite" });
  const plansOut = h("div", { id: "plans" });

  page.append(
    h("section", { class: "card toolbar" }, field(t("network"), netSelect, "network"), field(t("date"), dateInput, "date"), title),
    h("section", { class: "card" }, h("h2", {}, t("orders_title")), ordersInfo, drop, uploadOut),
    h("section", { class: "card" }, h("h2", {}, t("plan_title")),
      h("form", { id: "plan-form", class: "inline", onsubmit: (e) => { e.preventDefault(); startPlan(); } },
        field(t("budget"), budget, "budget"), h("button", { type: "submit", id: "start-plan" }, t("start_plan"))),
      jobOut),
    h("section", { class: "card" }, h("h2", {}, t("plans_of_day")), plansOut),
  );

  function remember() { localStorage.setItem("countyroute.day", JSON.stringify({ network, date })); }
  netSelect.addEventListener("change", () => { network = netSelect.value; remember(); refresh(); });
  dateInput.addEventListener("change", () => { date = dateInput.value; remember(); refresh(); });

  async function refresh() {
    title.textContent = fmtDay(date);
    const page = await get(`/networks/${encodeURIComponent(network)}/orders?date=${date}&limit=1`);
    ordersInfo.textContent = t("orders_count", { n: num(page.total) });
    const plans = await get(`/plans?network=${encodeURIComponent(network)}&date=${date}`);
    clear(plansOut).append(plansTable(plans));
  }

  async function upload(file) {
    message(uploadOut, t("uploading"));
    try {
      const text = await file.text();
      const r = await post(`/networks/${encodeURIComponent(network)}/orders?date=${date}`, text, { contentType: "text/csv" });
      message(uploadOut, t("upload_ok", { rows: num(r.rows), created: num(r.created), updated: num(r.updated), unchanged: num(r.unchanged) }), "ok");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const errors = err.problem.errors && err.problem.errors.length ? err.problem.errors : [{ detail: err.message, code: "-", field: err.problem.field }];
      clear(uploadOut).append(
        h("p", { class: "msg msg-error", role: "alert" }, t("upload_rejected")),
        h("table", { class: "rejected", id: "rejected-rows" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("col_file")), h("th", { scope: "col" }, t("col_row")), h("th", { scope: "col" }, t("col_field")), h("th", { scope: "col" }, t("col_problem")))),
          h("tbody", {}, errors.map((e) => h("tr", {}, h("td", {}, e.source || file.name), h("td", {}, locationText(e.location)), h("td", {}, e.field || ""), h("td", {}, e.code === "-" ? e.detail : inputErrorText(e)))))));
    }
    await refresh();
  }

  fileInput.addEventListener("change", () => { if (fileInput.files[0]) upload(fileInput.files[0]); fileInput.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); } });

  async function startPlan() {
    stopped = false;
    let job;
    try {
      job = await post(`/networks/${encodeURIComponent(network)}/plans`, { date, time_limit_s: Number(budget.value) });
    } catch (err) { return message(jobOut, t("error", { msg: err.message }), "error"); }
    await follow(job);
  }

  async function follow(job, resumed) {
    stopped = false;
    await showJob(jobOut, job, () => stopped, () => { stopped = true; }, resumed);
    if (!left) await refresh();
  }

  await refresh();
  const resumed = carriedJob(jobOut); // the job followed here before the language was switched
  if (resumed) follow(resumed.job, resumed);
  return ({ relang = false } = {}) => { stopped = true; left = true; if (relang) carryJobs(jobOut); };
}

/** The jobs followed in job panels when the language was switched, by panel id: the view
 *  drawn again in the new language follows them on (see carryJobs, carriedJob). */
const carried = new Map();

/** Hand the jobs these panels follow to the view drawn next (the language was switched). */
export function carryJobs(...outs) {
  for (const out of outs) if (out.following) carried.set(out.id, { ...out.following, stages: [...out.following.stages] });
}

/** The job handed over for the panel of this id, if any (taken once). */
export function carriedJob(out) {
  const c = carried.get(out.id);
  carried.delete(out.id);
  return c;
}

/** Forget the jobs handed over (the view was left for another one). */
export function dropCarriedJobs() { carried.clear(); }

/** A job panel: status, the stage lines seen, elapsed time, a progress bar and Cancel
 *  (``POST /jobs/{id}/cancel``); while the server does not answer, a line saying the page is
 *  reconnecting. A Cancel that gets no answer or a 5xx (a restart) is said under the button,
 *  which may be pressed again, and the job is still followed. While following, ``out.following``
 *  holds the job's last state, when following began and the stages seen; given as
 *  ``resumed``, they are drawn again (in the page's language now) and the job followed on.
 *  Resolves with the finished job, or with the last state seen when following ended early
 *  (the view was left, or the error that ended it is shown in the panel). */
export async function showJob(out, job, isStopped, stop, resumed = null) {
  const stages = h("ol", { class: "stages" });
  const status = h("p", { class: "job-status" });
  const reconnecting = h("p", { class: "job-reconnecting", role: "status" }, t("reconnecting"));
  const bar = h("progress", { max: "1", value: "0", "aria-label": t("job_status") });
  const cancelError = h("p", { class: "msg msg-error cancel-error", role: "alert" });
  const stopBtn = h("button", { type: "button", class: "secondary", id: "cancel-job", onclick: async () => {
    stopBtn.disabled = true;
    cancelError.remove();
    try { await post(`/jobs/${job.id}/cancel`); } catch (err) {
      if (err.status === 409) return; // the job had ended
      if (transient(err)) { // the server restarting: the job goes on, and so does following it
        cancelError.textContent = t("cancel_failed", { why: lostWhy(err) });
        stopBtn.after(cancelError);
        stopBtn.disabled = false;
      } else { stop(); message(out, t("error", { msg: err.message }), "error"); }
    }
  } }, t("cancel_job"));
  clear(out).append(status, bar, stages, stopBtn);
  const following = { job, started: resumed ? resumed.started : performance.now(), stages: resumed ? [...resumed.stages] : [] };
  out.following = following;
  let seen = job;
  const draw = (j, elapsed) => {
    status.textContent = `${t("job_status")} ${j.id.slice(0, 8)} · ${t("job_" + j.status)} · ${t("elapsed", { s: num(elapsed, 1) })}`;
    status.dataset.status = j.status;
    bar.value = j.progress ?? 0;
  };
  const addStage = (stage) => stages.append(h("li", {}, t("stage", { stage: stageText(stage) })));
  if (resumed) {
    draw(resumed.job, (performance.now() - resumed.started) / 1000);
    following.stages.forEach(addStage);
  }
  let done;
  try {
    done = await followJob(job, (j, elapsed) => {
      seen = following.job = j;
      reconnecting.remove();
      draw(j, elapsed);
      if (j.stage && j.stage !== following.stages[following.stages.length - 1]) { following.stages.push(j.stage); addStage(j.stage); }
    }, {
      stopped: isStopped,
      started: following.started,
      onRetry: (tries) => { reconnecting.dataset.tries = String(tries); if (!reconnecting.isConnected) status.after(reconnecting); },
    });
  } catch (err) {
    reconnecting.remove();
    stopBtn.remove();
    cancelError.remove();
    out.append(h("p", { class: "msg msg-error", role: "alert" }, t("error", { msg: followErrorText(err) })));
    return seen;
  } finally {
    if (out.following === following) delete out.following;
  }
  stopBtn.remove();
  cancelError.remove();
  if (done.status === "failed" || done.status === "cancelled") out.append(h("p", { class: "msg msg-error", role: "alert" }, t("error", { msg: jobErrorText(done) })));
  if (done.status === "succeeded" && done.plan) out.append(h("p", {}, h("a", { href: `#/plan/${done.plan}`, id: "open-new-plan" }, `${t("open")} ${t("plan_n", { id: done.plan })}`)));
  return done;
}

/** Why following a job ended, in the page's language: the server out of reach for too long
 *  (its last answer's status, or none), or a refusal (the problem's own text). */
function followErrorText(err) {
  if (!(err instanceof LostContact)) return err.message;
  return t("job_lost", { s: num(Math.round(err.waited_s)), why: lostWhy(err.cause) });
}

/** What a request that the server did not answer got, in the page's language: its status,
 *  or none. */
function lostWhy(err) {
  return err instanceof ApiError ? t("lost_status", { status: err.status }) : t("lost_no_answer");
}

/** The server's stage names in the page's language ("coverage curve 7/19" keeps its count). */
function stageText(stage) {
  const m = stage.match(/^(coverage curve|simulating|planned) (\d+)\/(\d+)( days)?$/);
  if (m) return t(`stage_${m[1].replace(" ", "_")}_n`, { done: m[2], total: m[3] });
  const key = `stage_${stage.replace(/ /g, "_")}`;
  return has(key) ? t(key) : lang() === "en" ? stage : t("stage_other");
}

function plansTable(plans) {
  if (!plans.length) return h("p", {}, "—");
  return h("table", { class: "plans" },
    h("thead", {}, h("tr", {}, ["#", "col_status", "kpi_cost", "kpi_vehicles", "kpi_deferred", ""].map((k) => h("th", { scope: "col" }, k === "#" || k === "" ? k : t(k))))),
    h("tbody", {}, plans.map((p) => h("tr", {},
      h("td", {}, t("plan_n", { id: p.id })),
      h("td", {}, `${t("status_" + p.status)} · ${t("revision", { n: p.revision })}`),
      h("td", {}, t("yuan", { v: num(p.kpis.cost || 0) })),
      h("td", {}, num(p.kpis.vehicles || 0)),
      h("td", {}, num(p.kpis.deferred_orders || 0)),
      h("td", {}, h("a", { href: `#/plan/${p.id}` }, t("open")))))));
}
