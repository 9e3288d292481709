// The plan view: map by tier, route list with KPIs, stops, timeline, comparison with
// yesterday's published plan; editing (checked by the server on every edit, nothing saved
// until "Save"); publish; following the day; repair.

import { ApiError, api, get, post } from "./api.js";
import { choices, clear, field, h, message, put, svg } from "./dom.js";
import { clock, day as fmtDay, has, lang, named, num, pct, t } from "./i18n.js";
import { PlanMap, shortName, vehicleColours } from "./map.js";
import { showJob } from "./day.js";

const TIERS = ["trunk_down", "last_mile", "trunk_up"];
const LARGE_ROUTES = 150;
/** Timeline rows drawn at most (a large plan shows the selected route's station). */
const TIMELINE_ROWS = 60;
/** Sites of the deferred list shown before "show all". */
const DEFERRED_ROWS = 100;
const label = (r) => `${r.tier}:${r.vehicle}`;
const copy = (x) => JSON.parse(JSON.stringify(x));

export async function planView(view, session, planId) {
  const rendered = performance.now();
  const doc = await get(`/plans/${planId}/view`);
  // A large plan's routes come as straight stop-to-stop lines (road geometry costs the server
  // seconds per route there); the selected route is then fetched along its roads.
  const large = doc.plan.routes.length > LARGE_ROUTES;
  const geometry = large ? "stops" : "roads";
  const [netGeo, routeGeo, vehicles, yesterday] = await Promise.all([
    get(`/networks/${encodeURIComponent(doc.network)}/geojson`),
    get(`/plans/${planId}/geojson?geometry=${geometry}`),
    get(`/networks/${encodeURIComponent(doc.network)}/vehicles`),
    previousPublished(doc),
  ]);
  const canDispatch = session.role === "admin" || session.role === "dispatcher";
  const fleet = Object.fromEntries(vehicles.map((v) => [v.id, v]));
  const original = doc.plan.routes;
  const st = {
    tier: "last_mile", selected: null, edits: [], redo: [], violations: [], routes: copy(original),
    pins: new Set(Object.entries(Object.fromEntries(doc.plan.settings ? Object.entries(doc.plan.settings) : []))
      .filter(([k]) => k.startsWith("pin:")).map(([k]) => k.slice(4))),
    events: [], progress: null, timers: [], pickingRoad: false,
  };
  const colours = vehicleColours(original);

  // ---- layout
  const kpiEl = h("section", { class: "card kpis", id: "kpis", "aria-label": t("kpis") });
  const mapEl = h("div", { id: "map", class: "map", role: "region", "aria-label": t("legend") });
  const tierSel = h("fieldset", { class: "tiers" }, h("legend", {}, t("show_tier")),
    [...TIERS, "all"].map((tier) => h("label", {}, h("input", { type: "radio", name: "tier", value: tier, checked: tier === st.tier, onchange: () => { st.tier = tier; drawMap(); drawRouteList(); drawTimeline(); } }), t("tier_" + tier))));
  const layers = h("fieldset", { class: "layers" }, h("legend", {}, t("legend")),
    h("label", {}, h("input", { type: "checkbox", checked: true, onchange: (e) => pmap.showRoads(e.target.checked) }), t("layer_roads")),
    h("label", {}, h("input", { type: "checkbox", checked: true, onchange: (e) => { pmap.showVillageLabels = e.target.checked; pmap.placeLabels(); } }), t("layer_labels")),
    h("label", {}, h("input", { type: "checkbox", checked: true, onchange: (e) => pmap.showDeferred(e.target.checked) }), t("layer_deferred")));
  const saved = JSON.parse(localStorage.getItem("countyroute.tiles") || "null") || { url: "", datum: "wgs84" };
  const tileUrl = h("input", { type: "url", size: 40, value: saved.url, placeholder: "https://…/{z}/{x}/{y}.png" });
  const tileDatum = h("select", {}, ["wgs84", "gcj02"].map((d) => h("option", { value: d, selected: d === saved.datum }, t("datum_" + d))));
  const settings = h("details", { class: "map-settings" }, h("summary", {}, t("settings")),
    h("form", { class: "inline", onsubmit: (e) => {
      e.preventDefault();
      localStorage.setItem("countyroute.tiles", JSON.stringify({ url: tileUrl.value.trim(), datum: tileDatum.value }));
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } }, field(t("tile_url"), tileUrl, "tile-url"), field(t("tile_datum"), tileDatum, "tile-datum"), h("button", { type: "submit" }, t("apply"))));
  const routeListEl = h("div", { id: "route-list" });
  const stopsEl = h("div", { id: "stops" });
  const editsEl = h("section", { class: "card", id: "edits" });
  const timelineEl = h("section", { class: "card", id: "timeline" });
  const compareEl = h("section", { class: "card", id: "compare" });
  const deferredEl = h("section", { class: "card", id: "deferred" });
  const followEl = h("section", { class: "card", id: "follow" });
  const repairEl = h("section", { class: "card", id: "repair" });
  const actionsEl = h("div", { class: "actions" });
  const statusEl = h("div", { id: "plan-status", "aria-live": "polite" });

  clear(view).append(
    h("section", { class: "card toolbar" },
      h("h1", {}, `${t("plan_n", { id: planId })} · ${doc.network} · ${fmtDay(doc.date)}`),
      h("span", { class: `badge status-${doc.status}`, id: "status-badge" }, `${t("status_" + doc.status)} · ${t("revision", { n: doc.revision })}`),
      actionsEl, h("a", { href: "#/day" }, t("back_to_day"))),
    statusEl,
    kpiEl,
    h("div", { class: "plan-grid" },
      h("div", { class: "map-col" }, h("div", { class: "map-tools" }, tierSel, layers, settings), mapEl),
      h("div", { class: "side" },
        h("section", { class: "card" }, h("h2", { id: "routes-h" }, t("routes")), h("p", { class: "hint", id: "routes-help" }, t("route_list_help")), routeListEl),
        h("section", { class: "card" }, stopsEl),
        editsEl)),
    timelineEl, deferredEl, compareEl, followEl, repairEl);

  const tiles = saved.url ? saved : null;
  // On the map: click a village stop, then click the route it should move to (Esc cancels).
  const mapNote = h("p", { class: "hint", id: "map-note", "aria-live": "polite" });
  mapEl.before(mapNote);
  function mapClick(lbl, stopIndex) {
    const pending = st.pendingMove;
    if (pending && stopIndex === null && lbl !== pending.route) {
      st.pendingMove = null;
      mapNote.textContent = "";
      const dst = st.routes.find((x) => label(x) === lbl);
      if (dst && dst.tier === pending.tier) return addEdit({ op: "move_stop", route: pending.route, stop: pending.stop, to_route: lbl });
    }
    const r = st.routes.find((x) => label(x) === lbl);
    if (doc.status === "draft" && r && stopIndex !== null && stopIndex !== undefined && r.stops[stopIndex].kind === "visit") {
      st.pendingMove = { route: lbl, stop: stopIndex, tier: r.tier };
      mapNote.textContent = t("map_move_hint", { site: siteName(r.stops[stopIndex].site) });
    }
    select(lbl);
  }
  const onEsc = (e) => { if (e.key === "Escape" && st.pendingMove) { st.pendingMove = null; mapNote.textContent = ""; } };
  document.addEventListener("keydown", onEsc);
  const pmap = new PlanMap(mapEl, { onRouteClick: mapClick, tiles, planar: netGeo.crs_name === "planar" });
  window.countyrouteMap = pmap; // for the browser tests (where a road is on the screen)
  if (tiles && tiles.datum === "gcj02") {
    pmap.setNetwork(await get(`/networks/${encodeURIComponent(doc.network)}/geojson?crs=gcj02`));
  } else pmap.setNetwork(netGeo);
  let liveRouteGeo = routeGeo;
  const crsParam = tiles && tiles.datum === "gcj02" ? "&crs=gcj02" : "";
  if (crsParam) liveRouteGeo = await get(`/plans/${planId}/geojson?geometry=${geometry}${crsParam}`);
  const onRoads = new Set();
  async function roadsOf(lbl) {
    if (!large || onRoads.has(lbl)) return;
    onRoads.add(lbl);
    const one = await get(`/plans/${planId}/geojson?geometry=roads&route=${encodeURIComponent(lbl)}${crsParam}`);
    liveRouteGeo = { ...liveRouteGeo, features: liveRouteGeo.features.map((f) => (f.id === lbl ? one.features[0] : f)) };
    drawMap();
  }
  const sites = pmap.sites;
  const siteName = (id) => (sites[id] ? sites[id].name : id);

  // ---- actions
  function drawActions() {
    clear(actionsEl);
    if (doc.status === "draft") {
      if (canDispatch) actionsEl.append(h("button", { type: "button", id: "publish", onclick: publish, disabled: st.edits.length > 0 }, t("publish")));
      else actionsEl.append(h("span", { class: "hint", id: "no-publish" }, t("planner_cannot_publish")));
      actionsEl.append(h("button", { type: "button", id: "reoptimise", class: "secondary", onclick: reoptimise }, t("reoptimise")));
    }
  }

  async function publish() {
    try {
      await post(`/plans/${planId}/publish`);
      message(statusEl, t("published_ok"), "ok");
      setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 300);
    } catch (err) { message(statusEl, t("error", { msg: err.message }), "error"); }
  }

  async function reoptimise() {
    const pins = {};
    for (const e of st.edits) if (e.op === "pin_village") pins[e.site] = e.route.split(":")[1];
    try {
      const job = await post(`/networks/${encodeURIComponent(doc.network)}/plans`, { date: doc.date, time_limit_s: 2, previous_plan: planId, pins });
      await showJob(statusEl, job, () => st.closed, () => {});
    } catch (err) { message(statusEl, t("error", { msg: err.message }), "error"); }
  }

  // ---- KPIs
  function routeStats(r) {
    const v = fleet[r.vehicle];
    const visits = r.stops.filter((s) => s.kind === "visit");
    let kg = 0, m3 = 0, parcels = 0, ontime = 0;
    for (const s of r.stops) { kg = Math.max(kg, s.load_after.kg); m3 = Math.max(m3, s.load_after.m3); parcels = Math.max(parcels, s.load_after.parcels); }
    for (const s of visits) { const site = sites[s.site]; if (!site || !site.closes || s.start_s <= secondsOf(site.closes)) ontime += 1; }
    const first = r.stops[0], last = r.stops[r.stops.length - 1];
    return {
      stops: visits.length, km: (r.distance_m || 0) / 1000, hours: last && first ? (last.arrival_s - first.departure_s) / 3600 : 0,
      cost: r.cost || 0,
      load: v ? [kg / v.capacity_kg, m3 / v.capacity_m3, parcels / v.capacity_parcels] : null,
      ontime: visits.length ? ontime / visits.length : 1,
    };
  }

  function drawKpis() {
    const k = doc.kpis;
    const poorAll = Object.values(sites).filter((s) => s.poor).map((s) => s.id);
    const visited = new Set(st.routes.flatMap((r) => r.stops.filter((s) => s.kind === "visit").map((s) => s.site)));
    const poorVisited = poorAll.filter((id) => visited.has(id)).length;
    let visits = 0, ontime = 0;
    for (const r of st.routes) { const s = routeStats(r); visits += s.stops; ontime += s.ontime * s.stops; }
    const byReason = Object.entries(k.deferred_by_reason || {}).map(([r, n]) => `${t("reason_" + r)} ${num(n)}`).join(" · ") || "0";
    const items = [
      ["kpi_cost", t("yuan", { v: num(k.cost || 0) })], ["kpi_km", t("km", { v: num(k.km || 0) })],
      ["kpi_hours", t("hours", { v: num(k.vehicle_hours || 0, 1) })], ["kpi_vehicles", num(k.vehicles || 0)],
      ["kpi_parcels", num(k.parcels || 0)], ["kpi_cost_per_parcel", t("yuan", { v: num(k.cost_per_parcel || 0, 2) })],
      ["kpi_ontime", pct(visits ? ontime / visits : 1)], ["kpi_poor", `${num(poorVisited)} / ${num(poorAll.length)}`],
      ["kpi_deferred", `${num(k.deferred_orders || 0)} (${byReason})`],
    ];
    clear(kpiEl).append(h("h2", { class: "visually-hidden" }, t("kpis")),
      h("dl", {}, items.map(([key, v]) => h("div", { class: "kpi" }, h("dt", {}, t(key)), h("dd", {}, v)))));
  }

  // ---- map
  function drawMap() {
    pmap.setRoutes(st.routes, liveRouteGeo, colours, st.tier, st.highlight ? st.selected : null);
    const marks = {};
    for (const e of st.events) if (e.type === "delivered" || e.type === "collected") marks[e.site] = "done";
    for (const v of st.violations) if (v.site) marks[v.site] = "violation";
    pmap.setMarks(marks);
  }

  // vehicle classes said in the page's language when it knows them (else their names)
  const vclass = (name) => (has("vclass_" + name) ? t("vclass_" + name) : name);
  function hintValues(hint) {
    const values = { ...hint };
    if (values.vehicle_class) values.vehicle_class = vclass(values.vehicle_class);
    if (values.classes) values.classes = values.classes.split(", ").map(vclass).join(lang() === "zh" ? "、" : ", ");
    return values;
  }
  const deferredBySite = {};
  for (const d of doc.plan.deferred) (deferredBySite[d.site] = deferredBySite[d.site] || []).push(d);
  function deferredText(site, list) {
    const n = list.reduce((sum, d) => sum + d.orders, 0);
    const text = t("deferred_at", { n: num(n), site: siteName(site), reason: t("reason_" + list[0].reason), until: list[0].until || "—" });
    // the suggestion said from its code and values (the core's English text is the fallback
    // for plans written before hints, shown beside English labels only)
    const hint = list[0].hint;
    if (hint && has("hint_" + hint.code)) return `${text} — ${t("hint_" + hint.code, hintValues(hint))}`;
    return lang() === "en" && list[0].suggestion ? `${text} — ${list[0].suggestion}` : text;
  }
  pmap.setDeferred(Object.entries(deferredBySite).map(([site, list]) => ({ site, text: () => deferredText(site, list) })));

  // ---- route list: a listbox (arrow keys, Enter)
  function shownRoutes() { return st.routes.filter((r) => st.tier === "all" || r.tier === st.tier); }
  function lateOf(lbl) {
    const p = st.progress && st.progress.routes.find((x) => x.route === lbl);
    return p ? p : null;
  }
  // A vehicle is late when a courier's event came more than 15 minutes after the planned start
  // of its stop (the server's grace); the server's own count of overdue stops is shown only on
  // the plan's own day, when "now" means something.
  const GRACE_S = 15 * 60;
  const isToday = doc.date === new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });
  function lateMinutes(lbl) {
    const r = st.routes.find((x) => label(x) === lbl);
    let worst = 0;
    for (const e of st.events) {
      if (!r || e.vehicle !== r.vehicle) continue;
      const s = r.stops.find((x) => x.site === e.site && x.kind === "visit");
      if (s && e.at_s > s.start_s + GRACE_S) worst = Math.max(worst, Math.round((e.at_s - s.start_s) / 60));
    }
    const p = isToday ? lateOf(lbl) : null;
    return { minutes: worst, overdue: p ? p.late_stops : 0 };
  }
  // A large plan's list is rendered a page at a time: the rows up to the selected one and
  // the next page, the rest as the list is scrolled (or walked with the arrow keys) to its end.
  const LIST_PAGE = 60;
  function routeItem(r, routes) {
    const s = routeStats(r);
    const lbl = label(r);
    const prog = lateOf(lbl);
    const late = lateMinutes(lbl);
    const bad = st.violations.some((v) => v.route === lbl);
    const item = h("li", {
      role: "option", tabindex: lbl === (st.selected || label(routes[0])) ? "0" : "-1", "aria-selected": String(lbl === st.selected),
      class: `route-item${bad ? " has-violation" : ""}${late.minutes || late.overdue ? " late" : ""}`, dataset: { route: lbl },
    },
    h("span", { class: "sw-line", style: `background:${colours[r.vehicle]}` }),
    h("span", { class: "rv" }, r.vehicle),
    h("span", { class: "rt" }, `${num(s.stops)} · ${t("km", { v: num(s.km, 1) })} · ${t("hours", { v: num(s.hours, 1) })} · ${t("yuan", { v: num(s.cost) })}`),
    s.load ? h("span", { class: "rl", title: t("col_load") }, s.load.map((x) => pct(x)).join(" / ")) : null,
    h("span", { class: "ro", title: t("col_ontime") }, pct(s.ontime)),
    prog ? h("span", { class: "rp" }, `${t("col_progress")} ${prog.stops_done}/${prog.stops_total}`) : null,
    late.minutes || late.overdue ? h("span", { class: "badge late-badge" }, late.minutes ? t("late_by", { m: late.minutes }) : t("overdue", { n: late.overdue })) : null,
    bad ? h("span", { class: "badge violation-badge" }, t("violation")) : null);
    return item;
  }
  function drawRouteList() {
    const routes = shownRoutes();
    const list = h("ul", { role: "listbox", class: "route-list", "aria-labelledby": "routes-h", "aria-describedby": "routes-help", tabindex: "-1" });
    // one set of listeners on the list, not one per row
    const itemOf = (e) => e.target.closest("[role=option]");
    list.addEventListener("click", (e) => { const item = itemOf(e); if (item) select(item.dataset.route); });
    list.addEventListener("dragover", (e) => {
      const item = itemOf(e);
      if (item && (item.dataset.route.startsWith("last_mile:") || st.drag)) { e.preventDefault(); item.classList.add("over"); }
    });
    list.addEventListener("dragleave", (e) => { const item = itemOf(e); if (item) item.classList.remove("over"); });
    list.addEventListener("drop", (e) => {
      const item = itemOf(e);
      if (!item) return;
      e.preventDefault(); item.classList.remove("over");
      const d = JSON.parse(e.dataTransfer.getData("application/x-countyroute-stop") || "null");
      if (d && d.route !== item.dataset.route) addEdit({ op: "move_stop", route: d.route, stop: d.stop, to_route: item.dataset.route });
    });
    let shown = 0;
    let observer = null;
    const more = h("li", { role: "presentation", class: "route-more", "aria-hidden": "true" });
    function renderMore(upTo) {
      const end = Math.min(routes.length, Math.max(upTo, shown + LIST_PAGE));
      const frag = document.createDocumentFragment();
      for (; shown < end; shown++) frag.append(routeItem(routes[shown], routes));
      more.before(frag);
      more.textContent = shown < routes.length ? `${num(shown)} / ${num(routes.length)}` : "";
      if (shown >= routes.length) { more.remove(); if (observer) observer.disconnect(); }
    }
    list.append(more);
    const at = routes.findIndex((r) => label(r) === st.selected);
    renderMore(at + 1 + LIST_PAGE);
    if (shown < routes.length && window.IntersectionObserver) {
      observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) renderMore(0); }, { root: list, rootMargin: "200px" });
      observer.observe(more);
    }
    list.addEventListener("keydown", (e) => {
      const items = [...list.querySelectorAll("[role=option]")];
      const i = items.indexOf(document.activeElement);
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (e.key === "ArrowDown" && i === items.length - 1 && shown < routes.length) { renderMore(0); items.push(...[...list.querySelectorAll("[role=option]")].slice(items.length)); }
        const next = items[Math.min(items.length - 1, Math.max(0, i + (e.key === "ArrowDown" ? 1 : -1)))];
        items.forEach((x) => x.setAttribute("tabindex", "-1"));
        next.setAttribute("tabindex", "0");
        next.focus();
      } else if ((e.key === "Enter" || e.key === " ") && i >= 0) {
        e.preventDefault();
        select(items[i].dataset.route, true);
      }
    });
    clear(routeListEl).append(list);
  }

  function select(lbl, keepFocus = false) {
    st.selected = lbl;
    st.highlight = true;
    const r = st.routes.find((x) => label(x) === lbl);
    if (r && st.tier !== "all" && r.tier !== st.tier) {
      st.tier = r.tier;
      tierSel.querySelectorAll("input").forEach((i) => { i.checked = i.value === r.tier; });
    }
    drawMap(); drawRouteList(); drawStops(); drawTimeline();
    roadsOf(lbl);
    if (keepFocus) { const el = routeListEl.querySelector(`[data-route="${CSS.escape(lbl)}"]`); if (el) el.focus(); }
  }

  // ---- stops of the selected route, with move / pin controls
  function drawStops() {
    clear(stopsEl);
    const r = st.routes.find((x) => label(x) === st.selected);
    if (!r) return;
    const editable = doc.status === "draft";
    const targets = st.routes.filter((x) => x.tier === r.tier).map((x) => [label(x), x.vehicle]);
    stopsEl.append(h("h2", {}, t("stops_of", { vehicle: `${r.vehicle} (${t("tier_" + r.tier)})` })),
      // Route sheets as PDF are the API's (issue 14): the console links to them.
      h("p", {}, h("a", { href: `/plans/${planId}/routes/${encodeURIComponent(r.vehicle)}/sheet.pdf?lang=${lang()}`, id: "route-sheet", target: "_blank", rel: "noopener" }, t("route_sheet"))));
    if (editable) stopsEl.append(h("p", { class: "hint" }, t("drag_hint")));
    const rows = r.stops.map((s, i) => {
      const vs = condense(st.violations.filter((v) => v.route === label(r) && v.stop === i));
      const sel = choices({ "aria-label": `${t("move_to")} ${siteName(s.site)}` }, targets, label(r));
      const pos = h("input", { type: "number", min: "1", step: "1", size: 3, "aria-label": `${t("position")} ${siteName(s.site)}` });
      const row = h("tr", { class: `${vs.length ? "violation" : ""}${st.pins.has(s.site) ? " pinned" : ""}`, dataset: { site: s.site, stop: String(i) }, draggable: editable && s.kind === "visit" ? "true" : null },
        h("td", {}, String(i)),
        h("td", { title: `${siteName(s.site)} (${s.site})` }, shortName(sites[s.site]) || s.site, st.pins.has(s.site) ? h("span", { class: "badge" }, t("pinned")) : null,
          vs.map((v) => { const n = vnote(v); return h("div", { class: "violation-msg", title: n.title }, `⚠ ${vcode(v.code)}${n.text}`); })),
        h("td", {}, t("kind_" + s.kind)),
        h("td", {}, clock(s.arrival_s)), h("td", {}, clock(s.start_s)), h("td", {}, clock(s.departure_s)),
        h("td", { class: "num" }, s.drops ? num(s.drops) : ""), h("td", { class: "num" }, s.collects ? num(s.collects) : ""),
        h("td", {}, editable && s.kind === "visit" ? h("div", { class: "stop-actions" }, sel, pos,
          h("button", { type: "button", class: "move", onclick: () => addEdit({ op: "move_stop", route: label(r), stop: i, to_route: sel.value, position: pos.value ? Number(pos.value) : undefined }) }, t("move")),
          r.tier === "last_mile" ? h("button", { type: "button", class: "pin secondary", title: t("pin"), "aria-label": `${t("pin")}: ${siteName(s.site)}`, onclick: () => addEdit({ op: "pin_village", site: s.site, route: sel.value }) }, t("pin_short")) : null) : null));
      row.addEventListener("dragstart", (e) => { e.dataTransfer.setData("application/x-countyroute-stop", JSON.stringify({ route: label(r), stop: i })); st.drag = true; });
      row.addEventListener("dragend", () => { st.drag = false; });
      row.addEventListener("dragover", (e) => { if (st.drag) e.preventDefault(); });
      row.addEventListener("drop", (e) => {
        e.preventDefault();
        const d = JSON.parse(e.dataTransfer.getData("application/x-countyroute-stop") || "null");
        if (d && i > 0) addEdit({ op: "move_stop", route: d.route, stop: d.stop, to_route: label(r), position: i });
      });
      return row;
    });
    stopsEl.append(h("table", { class: "stops" },
      h("thead", {}, h("tr", {}, ["col_seq", "col_site", "col_tier", "col_arrive", "col_start", "col_leave", "col_drop", "col_collect", "col_actions"].map((k) => h("th", { scope: "col" }, k === "col_tier" ? "" : t(k))))),
      h("tbody", {}, rows)));
  }

  /** A violation's particulars: the checker's own (English) sentences beside English labels;
   *  in another language what the page knows itself (the re-timed stop, the opening hours). */
  function vnote(v) {
    if (lang() === "en") return { text: detail(v), title: v.messages.join("\n") };
    const r = st.routes.find((x) => label(x) === v.route);
    const s = r && v.stop >= 0 ? r.stops[v.stop] : null;
    const site = sites[v.site];
    let text = v.messages.length > 1 ? ` ×${v.messages.length}` : "";
    if (v.code === "window" && s && site && site.closes) text = t("vdetail_window", { start: clock(s.start_s), opens: site.opens, closes: site.closes });
    return { text, title: `${vcode(v.code)}${text}` };
  }

  // ---- edits: local list, server check on each change
  function applyLocal(routes, e) {
    const find = (lbl) => routes.find((x) => label(x) === lbl);
    if (e.op === "move_stop") {
      const src = find(e.route), dst = find(e.to_route || e.route);
      if (!src || !dst) return;
      const [stop] = src.stops.splice(e.stop, 1);
      const at = e.position === undefined || e.position === null ? dst.stops.length - 1 : e.position;
      dst.stops.splice(Math.max(1, Math.min(at, dst.stops.length - 1 + (src === dst ? 1 : 0))), 0, stop);
    } else if (e.op === "pin_village") {
      const dst = find(e.route);
      for (const r of routes) {
        if (r === dst || r.tier !== "last_mile") continue;
        for (let i = r.stops.length - 1; i >= 0; i--) {
          if (r.stops[i].kind === "visit" && r.stops[i].site === e.site) { const [s] = r.stops.splice(i, 1); dst.stops.splice(dst.stops.length - 1, 0, s); }
        }
      }
    }
  }

  async function recheck() {
    st.routes = copy(original);
    st.pins = new Set([...st.pins].filter((s) => !st.edits.some((e) => e.op === "pin_village" && e.site === s)));
    for (const e of st.edits) { applyLocal(st.routes, e); if (e.op === "pin_village") st.pins.add(e.site); }
    st.violations = [];
    drawEdits(t("checking"));
    const started = performance.now();
    if (st.edits.length) {
      try {
        const res = await post(`/plans/${planId}/edits/check`, { revision: doc.revision, edits: st.edits });
        {
          for (const rt of res.routes) {
            const r = st.routes.find((x) => label(x) === rt.route);
            if (!r || r.stops.length !== rt.stops.length) continue;
            r.distance_m = rt.distance_m; r.cost = rt.cost;
            rt.stops.forEach((s, i) => Object.assign(r.stops[i], { arrival_s: s.arrival_s, start_s: s.start_s, departure_s: s.departure_s, load_after: s.load_after }));
          }
        }
        if (!res.ok) {
          st.violations = res.violations;
          const first = res.violations.find((v) => v.stop >= 0) || res.violations[0];
          if (first && st.routes.some((x) => label(x) === first.route)) st.selected = first.route;
        }
      } catch (err) {
        st.violations = [{ route: "", stop: -1, site: "", code: "other", message: err.message }];
      }
    }
    window.countyrouteLastEditMs = performance.now() - started;
    drawMap(); drawRouteList(); drawStops(); drawTimeline(); drawKpis(); drawEdits(); drawActions();
    window.countyrouteEditDrawnMs = performance.now() - started;
    document.body.dataset.editState = st.violations.length ? "rejected" : "checked";
  }

  function addEdit(e) {
    if (doc.status !== "draft") return;
    for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
    st.edits.push(e); st.redo = [];
    recheck();
  }
  function undo() { if (st.edits.length) { st.redo.push(st.edits.pop()); recheck(); } }
  function redo() { if (st.redo.length) { st.edits.push(st.redo.pop()); recheck(); } }

  async function saveEdits() {
    let revision = doc.revision;
    try {
      for (const e of st.edits) revision = (await post(`/plans/${planId}/edits`, { edit: e, revision })).revision;
      message(statusEl, t("saved", { n: revision }), "ok");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (err) { message(statusEl, t("error", { msg: err.message }), "error"); }
  }

  function drawEdits(note) {
    if (doc.status !== "draft") { editsEl.hidden = true; return; }
    const bad = st.violations.length > 0;
    put(clear(editsEl), h("h2", {}, t("edits")),
      h("p", { id: "edit-state", role: bad ? "alert" : "status", class: bad ? "msg msg-error" : "msg" },
        note || (bad ? t("check_failed", { n: st.violations.length }) : st.edits.length ? t("check_ok") : t("edits_none"))),
      st.edits.length ? h("p", {}, t("edits_pending", { n: st.edits.length })) : null,
      h("div", { class: "inline" },
        h("button", { type: "button", id: "undo", onclick: undo, disabled: !st.edits.length, "aria-keyshortcuts": "Control+Z" }, t("undo")),
        h("button", { type: "button", id: "redo", onclick: redo, disabled: !st.redo.length, "aria-keyshortcuts": "Control+Y" }, t("redo")),
        h("button", { type: "button", id: "save-edits", onclick: saveEdits, disabled: !st.edits.length || bad }, t("save_edits")),
        h("button", { type: "button", class: "secondary", onclick: () => { st.edits = []; st.redo = []; recheck(); }, disabled: !st.edits.length }, t("discard_edits"))),
      bad ? h("ul", { class: "violations" }, condense(st.violations).map((v) => { const n = vnote(v); return h("li", { title: n.title },
        `${v.route.split(":")[1] || v.route} #${v.stop} ${siteName(v.site)}: ${vcode(v.code)}${n.text}`); })) : null);
  }
  const keys = (e) => {
    if (!(e.ctrlKey || e.metaKey) || doc.status !== "draft") return;
    if (e.key === "z") { e.preventDefault(); undo(); } else if (e.key === "y") { e.preventDefault(); redo(); }
  };
  document.addEventListener("keydown", keys);

  // ---- timeline: one row per vehicle of the tier
  function drawTimeline() {
    let routes = shownRoutes();
    if (routes.length > TIMELINE_ROWS) {
      const sel = st.routes.find((x) => label(x) === st.selected);
      routes = routes.filter((r) => sel && r.home === sel.home).slice(0, TIMELINE_ROWS);
    }
    clear(timelineEl).append(h("h2", {}, t("timeline")));
    if (!routes.length) return;
    let t0 = Infinity, t1 = 0;
    for (const r of routes) { t0 = Math.min(t0, r.stops[0].departure_s); t1 = Math.max(t1, r.stops[r.stops.length - 1].arrival_s); }
    t0 = Math.floor(t0 / 3600) * 3600; t1 = Math.ceil(t1 / 3600) * 3600;
    const W = 1100, left = 120, rowH = 26, top = 22;
    const x = (s) => left + ((s - t0) / (t1 - t0)) * (W - left - 10);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${top + rowH * routes.length + 4}`, class: "timeline", role: "img", "aria-label": t("timeline") });
    for (let s = t0; s <= t1; s += 3600) chart.append(svg("line", { x1: x(s), x2: x(s), y1: 14, y2: top + rowH * routes.length, class: "tl-grid" }), svg("text", { x: x(s), y: 11, class: "tl-hour" }, clock(s)));
    routes.forEach((r, k) => {
      const y = top + k * rowH;
      const home = sites[r.home];
      const g = svg("g", { class: label(r) === st.selected ? "tl-row selected" : "tl-row" });
      g.append(svg("text", { x: 4, y: y + 16, class: "tl-vehicle" }, r.vehicle));
      if (home && home.opens) g.append(svg("rect", { x: x(Math.max(t0, secondsOf(home.opens))), y: y + 20, width: Math.max(0, x(Math.min(t1, secondsOf(home.closes))) - x(Math.max(t0, secondsOf(home.opens)))), height: 3, class: "tl-hours" }));
      r.stops.forEach((s, i) => {
        if (i > 0) { const p = r.stops[i - 1]; g.append(svg("rect", { x: x(p.departure_s), y: y + 8, width: Math.max(0.5, x(s.arrival_s) - x(p.departure_s)), height: 8, fill: colours[r.vehicle], class: "tl-drive" })); }
        if (s.start_s > s.arrival_s) g.append(svg("rect", { x: x(s.arrival_s), y: y + 6, width: x(s.start_s) - x(s.arrival_s), height: 12, class: "tl-wait" }));
        const bad = st.violations.some((v) => v.route === label(r) && v.site === s.site);
        const w = Math.max(1.5, x(s.departure_s) - x(s.start_s));
        g.append(svg("rect", { x: x(s.start_s), y: y + 4, width: w, height: 16, class: `tl-service${s.kind === "reload" || s.kind === "depart" ? " tl-reload" : ""}${bad ? " tl-bad" : ""}` },
          svg("title", {}, `${siteName(s.site)} ${t("kind_" + s.kind)} ${clock(s.arrival_s)}–${clock(s.departure_s)}`)));
        if (s.kind === "visit" && w > 26) g.append(svg("text", { x: x(s.start_s) + 2, y: y + 16, class: "tl-label" }, shortName(sites[s.site]).slice(0, Math.floor(w / 12))));
      });
      chart.append(g);
    });
    timelineEl.append(chart, h("p", { class: "tl-legend" },
      h("span", { class: "sw tl-drive-sw" }), t("tl_driving"), " ", h("span", { class: "sw tl-service-sw" }), t("tl_service"), " ",
      h("span", { class: "sw tl-wait-sw" }), t("tl_waiting"), " ", h("span", { class: "sw tl-reload-sw" }), t("tl_reload"), " ",
      h("span", { class: "sw tl-hours-sw" }), t("tl_hours")));
  }

  // ---- deferred and comparison
  function drawDeferred(all = false) {
    const entries = Object.entries(deferredBySite);
    const shown = all ? entries : entries.slice(0, DEFERRED_ROWS);
    clear(deferredEl).append(h("h2", {}, `${t("deferred_title")} (${num(doc.plan.deferred.reduce((sum, d) => sum + d.orders, 0))})`),
      entries.length ? h("ul", {}, shown.map(([site, list]) => h("li", {}, deferredText(site, list)))) : h("p", {}, "—"));
    if (shown.length < entries.length) {
      deferredEl.append(h("button", { type: "button", class: "secondary", id: "deferred-all", onclick: () => drawDeferred(true) }, t("show_all", { n: num(entries.length) })));
    }
  }
  function drawCompare() {
    clear(compareEl).append(h("h2", {}, t("compare_title")));
    if (!yesterday) { compareEl.append(h("p", {}, t("compare_none"))); return; }
    const assign = (routes) => { const m = {}; for (const r of routes) if (r.tier === "last_mile") for (const s of r.stops) if (s.kind === "visit") m[s.site] = r.vehicle; return m; };
    const before = assign(yesterday.plan.routes), after = assign(original);
    const running = new Set(original.map((r) => r.vehicle));
    const changes = [];
    for (const [site, v] of Object.entries(after)) {
      if (!(site in before)) changes.push([site, "—", v, t("why_new")]);
      else if (before[site] !== v) changes.push([site, before[site], v, running.has(before[site]) ? t("why_replanned") : t("why_vehicle_idle")]);
    }
    for (const [site, v] of Object.entries(before)) if (!(site in after)) changes.push([site, v, "—", t("why_gone")]);
    put(compareEl, h("p", {}, `${t("plan_n", { id: yesterday.id })} · ${fmtDay(yesterday.date)}`),
      changes.length ? [h("p", {}, t("compare_changed", { n: changes.length })),
        h("table", {}, h("thead", {}, h("tr", {}, [t("col_site"), "←", "→", ""].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, changes.map((c) => h("tr", {}, h("td", {}, siteName(c[0])), h("td", {}, c[1]), h("td", {}, c[2]), h("td", {}, c[3])))))]
        : h("p", {}, t("compare_same")));
  }

  // ---- following the day (published plans): polls progress and events every second
  // Events are cheap to read and polled often; progress (lateness against the plan) is
  // recomputed by the server from every order of the day, so it is read every few seconds and
  // whenever new events came in.
  let progressDue = 0;
  function addEvents(list) {
    const known = new Set(st.events.map((e) => e.id));
    const fresh = list.filter((e) => !known.has(e.id));
    if (!fresh.length) return false;
    st.events = [...st.events, ...fresh];
    drawFollow(); drawMap(); drawRouteList();
    return true;
  }
  // Server-sent events first; when the stream cannot be kept, the event list is polled.
  function listen() {
    if (!window.EventSource) return;
    const es = new EventSource(`/plans/${planId}/events/stream`);
    st.stream = es;
    es.onmessage = (m) => { if (addEvents([JSON.parse(m.data)])) progressDue = 0; };
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) { st.stream = null; } };
  }
  async function poll() {
    try {
      let fresh = false;
      if (!st.stream) fresh = addEvents(await get(`/plans/${planId}/events`));
      if (fresh || performance.now() >= progressDue) {
        progressDue = performance.now() + 3000;
        const progress = await get(`/plans/${planId}/progress`);
        if (JSON.stringify(progress) !== JSON.stringify(st.progress)) { st.progress = progress; drawFollow(); drawRouteList(); }
      }
    } catch (err) { if (err instanceof ApiError && err.status === 401) return; }
  }
  function schedule() { st.timers.push(setTimeout(async () => { await poll(); if (!st.closed) schedule(); }, 700)); }
  function drawFollow() {
    if (doc.status !== "published") { followEl.hidden = true; return; }
    const late = st.routes.map((r) => [r, lateMinutes(label(r))]).filter(([, l]) => l.minutes || l.overdue);
    put(clear(followEl), h("h2", {}, t("follow_title")), h("p", { class: "hint" }, t("live_via")),
      late.length ? h("p", { class: "msg msg-error", id: "late-vehicles" }, late.map(([r, l]) => `${r.vehicle}: ${l.minutes ? t("late_by", { m: l.minutes }) : t("overdue", { n: l.overdue })}`).join(" · ")) : null,
      h("h3", {}, t("live_events")),
      st.events.length ? h("ol", { id: "events", reversed: true }, [...st.events].reverse().slice(0, 200).map((e) =>
        h("li", { dataset: { event: e.id } }, `${e.at.slice(11, 16)} · ${e.vehicle} · ${siteName(e.site)} · ${t("ev_" + e.type)}${e.reason ? ` (${e.reason})` : ""}`)))
        : h("p", { id: "events-empty" }, t("no_events")));
  }

  // ---- repair
  function drawRepair() {
    if (!canDispatch || doc.status === "superseded") { repairEl.hidden = true; return; }
    const type = h("select", {}, ["vehicle_down", "road_closed", "trunk_late", "urgent_pickup"].map((x) => h("option", { value: x }, t("dis_" + x))));
    const at = h("input", { type: "time", value: "11:00", required: true });
    const vehicleSel = choices({}, [...new Set(original.map((r) => r.vehicle))].map((v) => [v, v]));
    const truckSel = choices({}, original.filter((r) => r.tier === "trunk_down").map((r) => [r.vehicle, r.vehicle]));
    const road = h("input", { type: "text", size: 10 });
    const delay = h("input", { type: "number", min: "1", value: "40" });
    const siteSel = choices({}, Object.values(sites).filter((s) => s.kind === "village_point").map((s) => [s.id, `${s.name} (${s.id})`]));
    const carrier = h("select", {}, ["ems", "zto", "yto", "sto", "yunda", "jt", "jd"].map((c) => h("option", { value: c }, named("carrier_", c))));
    const kg = h("input", { type: "number", min: "0", step: "0.1", value: "12" });
    const m3 = h("input", { type: "number", min: "0", step: "0.01", value: "0.05" });
    const parcels = h("input", { type: "number", min: "1", step: "1", value: "3" });
    const pickBtn = h("button", { type: "button", class: "secondary", id: "pick-road", onclick: () => {
      message(out, t("pick_road_hint"));
      pmap.pickRoad((id) => { road.value = id; pmap.highlightRoad(id); pmap.stopPicking(); clear(out); });
    } }, t("pick_road"));
    const groups = {
      vehicle_down: [field(t("repair_vehicle"), vehicleSel, "repair-vehicle")],
      road_closed: [field(t("repair_road"), road, "repair-road"), pickBtn],
      trunk_late: [field(t("repair_vehicle"), truckSel, "repair-truck"), field(t("repair_delay"), delay, "repair-delay")],
      urgent_pickup: [field(t("repair_site"), siteSel, "repair-site"), field(t("repair_carrier"), carrier, "repair-carrier"), field(t("repair_kg"), kg, "repair-kg"), field(t("repair_m3"), m3, "repair-m3"), field(t("repair_parcels"), parcels, "repair-parcels")],
    };
    const extra = h("div", { class: "inline" });
    const showGroup = () => clear(extra).append(...groups[type.value]);
    type.addEventListener("change", showGroup);
    const out = h("div", { id: "repair-out", "aria-live": "polite" });
    const form = h("form", { id: "repair-form", class: "inline" }, field(t("repair_type"), type, "repair-type"), field(t("repair_at"), at, "repair-at"), extra,
      h("button", { type: "submit", id: "repair-start" }, t("repair_start")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const ev = { type: type.value };
      if (type.value === "vehicle_down") ev.vehicle = vehicleSel.value;
      if (type.value === "road_closed") ev.road = road.value.trim();
      if (type.value === "trunk_late") { ev.vehicle = truckSel.value; ev.delay_min = Number(delay.value); }
      if (type.value === "urgent_pickup") ev.order = { id: `urgent-${Date.now()}`, carrier: carrier.value, site: siteSel.value, weight_kg: Number(kg.value), volume_m3: Number(m3.value), parcels: Number(parcels.value) };
      try {
        const job = await post(`/plans/${planId}/repair`, { at: at.value, events: [ev], time_limit_s: 2 });
        const done = await showJob(out, job, () => st.closed, () => {});
        if (done.status === "succeeded" && done.plan) out.append(await sideBySide(done.plan));
      } catch (err) { message(out, t("error", { msg: err.message }), "error"); }
    });
    clear(repairEl).append(h("h2", {}, t("repair_title")), form, out);
    showGroup();
  }

  async function sideBySide(newId) {
    const next = await get(`/plans/${newId}/view`);
    const rows = (p) => Object.fromEntries(p.plan.routes.map((r) => [label(r), r]));
    const a = rows(doc), b = rows(next);
    const labels = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((l) => l.startsWith("last_mile") || !(a[l] && b[l]) || JSON.stringify(a[l].stops.map((s) => s.site)) !== JSON.stringify(b[l].stops.map((s) => s.site)));
    const cell = (r) => (r ? `${r.stops.filter((s) => s.kind === "visit" || s.kind === "halt").length} · ${clock(r.stops[r.stops.length - 1].arrival_s)}${r.stops.some((s) => s.kind === "halt") ? " · " + t("kind_halt") : ""}` : "—");
    const kp = (k) => h("dl", {}, [["kpi_cost", t("yuan", { v: num(k.cost || 0) })], ["kpi_km", t("km", { v: num(k.km || 0) })], ["kpi_vehicles", num(k.vehicles || 0)], ["kpi_deferred", num(k.deferred_orders || 0)]]
      .map(([key, v]) => h("div", { class: "kpi" }, h("dt", {}, t(key)), h("dd", {}, v))));
    return h("div", { class: "side-by-side", id: "repair-result" },
      h("h3", {}, t("repair_result")),
      h("div", { class: "two" }, h("div", {}, h("h4", {}, `${t("current_plan")} · ${t("plan_n", { id: planId })}`), kp(doc.kpis)),
        h("div", {}, h("h4", {}, `${t("repaired_plan")} · ${t("plan_n", { id: newId })}`), kp(next.kpis))),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("col_vehicle")), h("th", { scope: "col" }, t("current_plan")), h("th", { scope: "col" }, t("repaired_plan")))),
        h("tbody", {}, labels.map((l) => h("tr", { class: cell(a[l]) !== cell(b[l]) ? "changed" : "" }, h("td", {}, l), h("td", {}, cell(a[l])), h("td", {}, cell(b[l])))))),
      h("div", { class: "inline" }, h("a", { href: `#/plan/${newId}`, id: "open-repaired" }, t("open_repaired")),
        h("button", { type: "button", id: "publish-repaired", onclick: async () => { await post(`/plans/${newId}/publish`); location.hash = `#/plan/${newId}`; } }, t("publish_repaired"))));
  }

  // ---- first render
  drawActions(); drawKpis();
  st.selected = label(shownRoutes()[0] || original[0]);
  drawMap(); drawRouteList(); drawStops(); drawTimeline(); drawEdits(); drawDeferred(); drawCompare(); drawFollow(); drawRepair();
  if (doc.status === "published") { listen(); poll().then(() => { if (!st.closed) schedule(); }); }
  requestAnimationFrame(() => {
    pmap.invalidate();
    window.countyroutePlanRenderedMs = performance.now() - rendered;
    document.body.dataset.planRendered = String(planId);
  });
  return () => { st.closed = true; st.timers.forEach(clearTimeout); if (st.stream) st.stream.close(); document.removeEventListener("keydown", keys); document.removeEventListener("keydown", onEsc); delete document.body.dataset.planRendered; };
}

/** The checker's own words are English: beside English labels only (always in the tooltip). */
function detail(v) {
  if (v.messages.length > 1) return ` ×${v.messages.length}`;
  return lang() === "en" ? `: ${v.messages[0]}` : "";
}

function vcode(code) { return t(has("vcode_" + code) ? "vcode_" + code : "vcode_other"); }

/** Violations grouped by route, stop and code (one line for a stop's 40 orders). */
function condense(list) {
  const out = new Map();
  for (const v of list) {
    const k = `${v.route}|${v.stop}|${v.code}`;
    if (!out.has(k)) out.set(k, { ...v, messages: [] });
    out.get(k).messages.push(v.message);
  }
  return [...out.values()];
}

function secondsOf(hhmm) { const [h_, m] = hhmm.split(":").map(Number); return h_ * 3600 + m * 60; }

async function previousPublished(doc) {
  const d = new Date(`${doc.date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  const y = d.toISOString().slice(0, 10);
  const plans = await get(`/plans?network=${encodeURIComponent(doc.network)}&date=${y}`);
  const pub = plans.filter((p) => p.status === "published").pop();
  return pub ? get(`/plans/${pub.id}/view`) : null;
}

export { api };
