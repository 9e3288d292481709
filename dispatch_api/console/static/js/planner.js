// Planner pages: placement and what-if jobs, their reports and pictures (coverage curve,
// KPI spreads), drawn in the page from the jobs' result documents.

import { get, post } from "./api.js";
import { clear, field, h, message, svg } from "./dom.js";
import { named, num, pct, t } from "./i18n.js";
import { carriedJob, carryJobs, showJob } from "./day.js";

const CHANGES = ["growth30", "growth30-fleet", "every-other-day", "carriers-alone", "bus-dakou", "new-points"];

export async function plannerView(view, session) {
  const networks = await get("/networks");
  const network = networks[0] ? networks[0].name : "";
  let stopped = false; // the view was left: its jobs are no longer followed
  const netSel = h("select", {}, networks.map((n) => h("option", { value: n.name }, n.name)));
  const radius = h("input", { type: "number", min: "0.5", step: "0.5", value: "3" });
  const cover = h("input", { type: "number", min: "0", max: "1", step: "0.05", value: "0.6" });
  const limit = h("input", { type: "number", min: "1", step: "1", value: "2" });
  const placeOut = h("div", { id: "placement-out", "aria-live": "polite" });
  const change = h("select", {}, CHANGES.map((c) => h("option", { value: c }, named("change_", c))));
  const days = h("input", { type: "number", min: "1", max: "60", step: "1", value: "2" });
  const simLimit = h("input", { type: "number", min: "1", step: "1", value: "1" });
  const simOut = h("div", { id: "whatif-out", "aria-live": "polite" });
  const placeForm = h("form", { id: "placement-form", class: "inline" }, field(t("network"), netSel, "pl-network"), field(t("radius_km"), radius, "pl-radius"),
    field(t("min_coverage"), cover, "pl-cover"), field(t("time_limit"), limit, "pl-limit"), h("button", { type: "submit" }, t("run_placement")));
  const simForm = h("form", { id: "whatif-form", class: "inline" }, field(t("change"), change, "wi-change"), field(t("days"), days, "wi-days"),
    field(t("time_limit"), simLimit, "wi-limit"), h("button", { type: "submit" }, t("run_whatif")));
  clear(view).append(h("h1", {}, t("planner_title")));
  if (!networks.length) view.append(h("p", {}, t("no_networks")));
  view.append(
    h("section", { class: "card" }, h("h2", {}, t("placement_title")), placeForm, placeOut),
    h("section", { class: "card" }, h("h2", {}, t("whatif_title")), simForm, simOut));
  /** Follow a job in its panel, then draw its report; ``resumed`` as showJob takes it. */
  async function follow(out, report, job, resumed) {
    const done = await showJob(out, job, () => stopped, () => {}, resumed);
    if (done.status === "succeeded") out.append(report(await get(`/jobs/${done.id}/result`)));
  }
  placeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const job = await post(`/networks/${encodeURIComponent(netSel.value || network)}/placements`, { radius_km: Number(radius.value), min_coverage: Number(cover.value), time_limit_s: Number(limit.value), curve_samples: 6 });
      await follow(placeOut, placementReport, job);
    } catch (err) { message(placeOut, t("error", { msg: err.message }), "error"); }
  });
  simForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const job = await post(`/networks/${encodeURIComponent(netSel.value || network)}/simulations`, { change: change.value, days: Number(days.value), time_limit_s: Number(simLimit.value) });
      await follow(simOut, whatifReport, job);
    } catch (err) { message(simOut, t("error", { msg: err.message }), "error"); }
  });
  // the jobs followed here before the language was switched
  for (const [out, report] of [[placeOut, placementReport], [simOut, whatifReport]]) {
    const resumed = carriedJob(out);
    if (resumed) follow(out, report, resumed.job, resumed).catch((err) => message(out, t("error", { msg: err.message }), "error"));
  }
  return ({ relang = false } = {}) => { stopped = true; if (relang) carryJobs(placeOut, simOut); };
}

function placementReport(r) {
  const s = r.solution || {};
  const curve = (r.curve || []).map((p) => [p.points ?? p.k ?? p.n ?? 0, p.coverage ?? p.village_coverage ?? 0]);
  return h("div", { class: "report", id: "placement-report" },
    h("p", {}, t("opened_sites", { n: num((s.opened || []).length) }), " · ", t("coverage", { v: pct(s.village_coverage || 0) }), " · ",
      t("poor_covered", { a: num(s.poor_covered || 0), b: num(s.poor || 0) }), " · ", `${t("setup_cost")} ${t("yuan", { v: num(s.setup_cost || 0) })}`),
    curve.length ? lineChart(curve, t("coverage_curve")) : null);
}

function lineChart(points, title) {
  const W = 480, H = 220, L = 44, B = 28;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const x = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - 10), y = (v) => H - B - v * (H - B - 10);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title },
    svg("line", { x1: L, x2: W - 10, y1: H - B, y2: H - B, class: "axis" }), svg("line", { x1: L, x2: L, y1: 10, y2: H - B, class: "axis" }),
    [0, 0.5, 1].map((v) => svg("text", { x: 4, y: y(v) + 4, class: "tick" }, pct(v))),
    svg("polyline", { points: points.map((p) => `${x(p[0])},${y(p[1])}`).join(" "), class: "curve" }),
    points.map((p) => svg("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, class: "dot" }, svg("title", {}, `${p[0]}: ${pct(p[1])}`))));
  return h("figure", {}, chart, h("figcaption", {}, title));
}

function whatifReport(r) {
  const rows = Object.entries(r.comparison || {}).filter(([, v]) => v && v.difference);
  return h("div", { class: "report", id: "whatif-report" },
    h("table", {}, h("thead", {}, h("tr", {}, [t("col_kpi"), t("col_base"), t("col_change"), t("col_diff")].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, num(mean(v.base), 1)), h("td", {}, num(mean(v.change), 1)),
        h("td", {}, `${num(v.difference.mean || 0, 1)} (${num(v.difference.p10 || 0, 1)} … ${num(v.difference.p90 || 0, 1)})`))))),
    spreadChart(rows));
}

function mean(x) { return typeof x === "number" ? x : x && typeof x.mean === "number" ? x.mean : 0; }

function spreadChart(rows) {
  if (!rows.length) return null;
  const W = 520, rowH = 22, L = 150;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${rows.length * rowH + 10}`, class: "chart", role: "img", "aria-label": t("kpi_spread") });
  rows.forEach(([k, v], i) => {
    const d = v.difference;
    const scale = Math.max(Math.abs(d.p10 || 0), Math.abs(d.p90 || 0), Math.abs(d.mean || 0), 1e-9);
    const x = (val) => L + (W - L - 10) / 2 + (val / scale) * ((W - L - 20) / 2);
    const y = 8 + i * rowH;
    chart.append(svg("text", { x: 2, y: y + 10, class: "tick" }, k),
      svg("line", { x1: x(0), x2: x(0), y1: y - 2, y2: y + 14, class: "axis" }),
      svg("rect", { x: Math.min(x(d.p10 || 0), x(d.p90 || 0)), y: y + 2, width: Math.max(1, Math.abs(x(d.p90 || 0) - x(d.p10 || 0))), height: 8, class: "spread" }),
      svg("circle", { cx: x(d.mean || 0), cy: y + 6, r: 4, class: "dot" }));
  });
  return h("figure", {}, chart, h("figcaption", {}, t("kpi_spread")));
}
