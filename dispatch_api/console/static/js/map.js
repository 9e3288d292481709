// The plan map: Leaflet with vector layers only (the network's own GeoJSON), so it works
// without tiles. An optional tile layer comes from the settings, with the GCJ-02 shift applied
// to our WGS-84 data when the tiles are GCJ-02 (the API answers crs=gcj02).

import { h } from "./dom.js";
import { t } from "./i18n.js";

const L = window.L;

// Kelly's colours of maximum contrast (without white, black and the greys), then a few more.
export const PALETTE = [
  "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
  "#800000", "#469990", "#000075", "#808000", "#bfef45", "#fabed4", "#dcbeff", "#ffe119",
  "#aaffc3", "#ffd8b1", "#a9a9a9", "#e6beff",
];

export function vehicleColours(routes) {
  const colours = {};
  const byClass = {};
  for (const r of routes) {
    const group = r.tier === "last_mile" ? "last" : "trunk";
    byClass[group] = byClass[group] || [];
    if (!byClass[group].includes(r.vehicle)) byClass[group].push(r.vehicle);
  }
  for (const list of Object.values(byClass)) list.forEach((v, i) => { colours[v] = PALETTE[i % PALETTE.length]; });
  return colours;
}

export function shortName(site) {
  if (!site) return "";
  if (site.kind === "station") return site.name.replace("综合服务站", "站");
  if (site.kind === "hub") return site.name.replace("县域物流配送中心", "物流中心");
  return site.name;
}

export class PlanMap {
  constructor(el, { onRouteClick = () => {}, tiles = null, planar = false } = {}) {
    this.el = el;
    // A planar network (metres, a synthetic county) is drawn on a flat plane, metres as
    // units: a county tens of kilometres wide needs zoom levels below 0 to fit.
    const flat = planar ? { crs: L.CRS.Simple, minZoom: -12, maxZoom: 3 } : {};
    this.map = L.map(el, { preferCanvas: false, zoomSnap: 0.25, attributionControl: false, ...flat });
    this.onRouteClick = onRouteClick;
    this.sites = {};
    this.roadLayer = L.layerGroup().addTo(this.map);
    this.routeLayer = L.layerGroup().addTo(this.map);
    this.stopLayer = L.layerGroup().addTo(this.map);
    this.deferredLayer = L.layerGroup().addTo(this.map);
    this.markLayer = L.layerGroup().addTo(this.map);
    this.labelLayer = L.layerGroup().addTo(this.map);
    this.showVillageLabels = true;
    this.labelled = new Set();
    this.legendItems = [];
    this.map.on("zoomend moveend", () => this.placeLabels());
    if (tiles && tiles.url && !planar) L.tileLayer(tiles.url, { maxZoom: 18 }).addTo(this.map);
    // The legend sits under the map (not on it), so it never hides a route.
    this.legendEl = h("div", { class: "legend", role: "region", "aria-label": t("legend") });
    el.after(this.legendEl);
    this.renderLegend();
  }

  setNetwork(geo) {
    this.roadLayer.clearLayers();
    this.roadLines = {};
    this.roadPickLayer = null;
    let bounds = null;
    // Roads are many (tens of thousands on a large county) and only looked at: drawn as one
    // multi-line per style on one canvas. Each road gets a clickable line of its own only
    // while a road is being picked (pickRoad).
    const styles = {};
    for (const f of geo.features) {
      const p = f.properties || {};
      if (f.geometry.type === "Point") {
        const [x, y] = f.geometry.coordinates;
        this.sites[f.id] = { id: f.id, name: p.name, kind: p.kind, poor: !!p.poor, latlng: L.latLng(y, x), parent: p.parent, opens: p.opens, closes: p.closes };
      } else if (f.geometry.type === "Polygon") {
        const layer = L.polygon(f.geometry.coordinates[0].map(([x, y]) => [y, x]), { color: "#888", weight: 1.5, dashArray: "4 4", fill: true, fillColor: "#f4f1ea", fillOpacity: 0.5, interactive: false });
        layer.addTo(this.roadLayer);
        bounds = layer.getBounds();
      } else if (f.geometry.type === "LineString" && p.kind === "road") {
        const major = p.road_class === "national" || p.road_class === "provincial" || p.road_class === "county";
        const latlngs = f.geometry.coordinates.map(([x, y]) => [y, x]);
        this.roadLines[f.id] = latlngs;
        const style = p.closed ? "closed" : major ? "major" : "minor";
        (styles[style] = styles[style] || []).push(latlngs);
      }
    }
    if (!this.roadRenderer) {
      this.map.createPane("roads").style.zIndex = "350"; // under the routes (overlay: 400)
      this.roadRenderer = L.canvas({ padding: 0.2, tolerance: 5, pane: "roads" });
    }
    for (const [style, lines] of Object.entries(styles)) {
      L.polyline(lines, { color: style === "closed" ? "#c00" : "#cfcac0", weight: style === "major" ? 2 : 1, opacity: 0.9, renderer: this.roadRenderer, interactive: false })
        .addTo(this.roadLayer);
    }
    this.bounds = bounds || L.latLngBounds(Object.values(this.sites).map((s) => s.latlng));
    this.map.fitBounds(this.bounds, { padding: [10, 10] });
  }

  showRoads(on) { if (on) this.roadLayer.addTo(this.map); else this.roadLayer.remove(); }

  /** Draw the routes of the tier ("all" for every tier). */
  setRoutes(routes, routeGeo, colours, tier, selected = null) {
    this.routeLayer.clearLayers();
    this.stopLayer.clearLayers();
    this.colours = colours;
    this.tier = tier;
    const shown = routes.filter((r) => tier === "all" || r.tier === tier);
    const geoBy = {};
    for (const f of routeGeo.features) geoBy[f.id] = f;
    this.labelled = new Set();
    const vehicles = [];
    // thousands of stops: one canvas for the markers instead of an SVG element each
    const many = shown.reduce((n, r) => n + r.stops.length, 0) > 1500;
    if (many && !this.stopRenderer) this.stopRenderer = L.canvas({ padding: 0.2 });
    for (const r of shown) {
      const label = `${r.tier}:${r.vehicle}`;
      const f = geoBy[label];
      const colour = colours[r.vehicle];
      const isSel = selected === label;
      const faded = selected && !isSel;
      if (!vehicles.includes(r.vehicle)) vehicles.push(r.vehicle);
      if (f) {
        const line = L.polyline(f.geometry.coordinates.map(([x, y]) => [y, x]), {
          color: colour, weight: isSel ? 7 : 4, opacity: faded ? 0.3 : 0.9,
          dashArray: r.tier === "trunk_up" ? "8 6" : null, className: `route-line route-${r.vehicle}`,
        });
        line.bindTooltip(escapeHtml(`${r.vehicle} · ${t("tier_" + r.tier)} · ${r.stops.filter((s) => s.kind === "visit").length}`), { sticky: true });
        line.on("click", (e) => { L.DomEvent.stop(e); this.onRouteClick(label, null, e.latlng); });
        line.addTo(this.routeLayer);
      }
      r.stops.forEach((s, i) => {
        const site = this.sites[s.site];
        if (!site || s.kind !== "visit") return;
        this.labelled.add(s.site);
        const m = L.circleMarker(site.latlng, {
          radius: site.kind === "station" ? 6 : 4.5, color: site.poor ? "#000" : "#fff", weight: site.poor ? 2 : 1,
          fillColor: colour, fillOpacity: faded ? 0.35 : 1, className: `stop-marker stop-${s.site}`,
          renderer: many ? this.stopRenderer : undefined,
        });
        m.bindTooltip(escapeHtml(`${site.name} (${s.site}) · ${r.vehicle} #${i}`));
        m.on("click", (e) => { L.DomEvent.stop(e); this.onRouteClick(label, i); });
        m.addTo(this.stopLayer);
      });
    }
    for (const s of Object.values(this.sites)) {
      if (s.kind === "hub" || s.kind === "station") {
        L.circleMarker(s.latlng, { radius: s.kind === "hub" ? 9 : 7, color: "#222", weight: 2, fillColor: s.kind === "hub" ? "#222" : "#fff", fillOpacity: 1 })
          .bindTooltip(escapeHtml(s.name)).addTo(this.stopLayer);
      }
    }
    this.legendVehicles = vehicles;
    this.renderLegend();
    this.placeLabels();
  }

  /** Deferred orders' sites: {site, text}, text a function (made when the tooltip opens).
   *  Many (a large county's hundreds) are drawn on a canvas rather than as an element each. */
  setDeferred(items) {
    this.deferredLayer.clearLayers();
    const many = items.length > 200;
    if (many && !this.deferredRenderer) this.deferredRenderer = L.canvas({ padding: 0.2 });
    for (const d of items) {
      const site = this.sites[d.site];
      if (!site) continue;
      const mark = many
        ? L.circleMarker(site.latlng, { radius: 6, color: "#c00", weight: 2, fill: false, dashArray: "2 2", renderer: this.deferredRenderer })
        : L.marker(site.latlng, { icon: L.divIcon({ className: "deferred-mark", html: "✕", iconSize: [16, 16] }), keyboard: false });
      mark.bindTooltip(() => escapeHtml(typeof d.text === "function" ? d.text() : d.text)).addTo(this.deferredLayer);
    }
  }

  showDeferred(on) { if (on) this.deferredLayer.addTo(this.map); else this.deferredLayer.remove(); }

  /** Rings at sites: {site: "violation" | "done" | "late"}. */
  setMarks(marks) {
    this.markLayer.clearLayers();
    for (const [siteId, kind] of Object.entries(marks)) {
      const site = this.sites[siteId];
      if (!site) continue;
      L.circleMarker(site.latlng, { radius: 11, color: kind === "done" ? "#1a7f37" : "#d00", weight: 3, fill: false, className: `mark-${kind}` })
        .addTo(this.markLayer);
    }
  }

  /** Greedy de-cluttering: hub and stations first, then visited villages; a label is drawn only
   *  where it overlaps no label already placed (four candidate positions around its point). */
  placeLabels() {
    if (!this.map || !this.sites) return;
    this.labelLayer.clearLayers();
    const size = this.map.getSize();
    const placed = [];
    const cands = Object.values(this.sites)
      .filter((s) => s.kind === "hub" || s.kind === "station" || (this.showVillageLabels && this.labelled.has(s.id)))
      .sort((a, b) => rank(a) - rank(b));
    for (const s of cands) {
      const p = this.map.latLngToContainerPoint(s.latlng);
      if (p.x < 0 || p.y < 0 || p.x > size.x || p.y > size.y) continue;
      const text = shortName(s);
      const w = text.length * (s.kind === "village_point" ? 12 : 13) + 8, hgt = 17;
      const options = [[8, -hgt / 2], [-w - 8, -hgt / 2], [-w / 2, -hgt - 7], [-w / 2, 7]];
      for (const [dx, dy] of options) {
        const box = { x: p.x + dx, y: p.y + dy, w, h: hgt };
        if (box.x < 0 || box.y < 0 || box.x + w > size.x || box.y + hgt > size.y) continue;
        if (placed.some((b) => overlaps(b, box))) continue;
        placed.push(box);
        const anchor = [-dx, -dy];
        L.marker(s.latlng, {
          icon: L.divIcon({ className: `site-label site-label-${s.kind}`, html: escapeHtml(text), iconSize: [w, hgt], iconAnchor: anchor }),
          interactive: false, keyboard: false,
        }).addTo(this.labelLayer);
        break;
      }
    }
  }

  renderLegend() {
    if (!this.legendEl) return;
    const el = this.legendEl;
    el.replaceChildren(
      h("strong", {}, t("legend")),
      h("div", {}, h("span", { class: "sw sw-hub" }), t("legend_hub")),
      h("div", {}, h("span", { class: "sw sw-station" }), t("legend_station")),
      h("div", {}, h("span", { class: "sw sw-village" }), t("legend_village")),
      h("div", {}, h("span", { class: "sw sw-poor" }), t("legend_poor")),
      h("div", {}, h("span", { class: "sw sw-deferred" }, "✕"), t("legend_deferred")),
      h("div", {}, h("span", { class: "sw sw-late" }), t("legend_late")),
      h("div", { class: "legend-vehicles" },
        (this.legendVehicles || []).map((v) => h("div", { class: "legend-vehicle" }, h("span", { class: "sw-line", style: `background:${this.colours[v]}` }), v))),
    );
  }

  /** Road picking: the routes are taken off the map until a road is clicked; each road is
   *  then a line of its own (built on the first pick). */
  pickRoad(callback) {
    this.roadPicker = callback;
    this.el.classList.add("picking");
    for (const layer of [this.routeLayer, this.stopLayer, this.markLayer, this.deferredLayer]) layer.remove();
    this.roadLayer.addTo(this.map);
    if (!this.roadPickLayer) {
      this.roadPickLayer = L.layerGroup();
      for (const [id, latlngs] of Object.entries(this.roadLines || {})) {
        const line = L.polyline(latlngs, { color: "#cfcac0", weight: 1, opacity: 0, renderer: this.roadRenderer });
        line.on("click", (e) => { if (this.roadPicker) { L.DomEvent.stop(e); this.roadPicker(id); } });
        line.addTo(this.roadPickLayer);
      }
    }
    this.roadPickLayer.addTo(this.map);
  }
  stopPicking() {
    this.roadPicker = null;
    this.el.classList.remove("picking");
    if (this.roadPickLayer) this.roadPickLayer.remove();
    for (const layer of [this.routeLayer, this.stopLayer, this.markLayer, this.deferredLayer]) layer.addTo(this.map);
  }
  /** Where a road's middle is on the screen (tests click there). */
  roadPoint(id) {
    const pts = this.roadLines && this.roadLines[id];
    if (!pts) return null;
    const k = Math.floor((pts.length - 1) / 2);
    const mid = L.latLng((pts[k][0] + pts[k + 1][0]) / 2, (pts[k][1] + pts[k + 1][1]) / 2);
    const p = this.map.latLngToContainerPoint(mid);
    const box = this.el.getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  }
  highlightRoad(id) {
    if (this.roadHighlight) this.roadHighlight.remove();
    const pts = this.roadLines && this.roadLines[id];
    this.roadHighlight = pts ? L.polyline(pts, { color: "#d00", weight: 5, renderer: this.roadRenderer, interactive: false }).addTo(this.roadLayer) : null;
  }
  invalidate() { this.map.invalidateSize(); this.placeLabels(); }
}

function rank(s) { return s.kind === "hub" ? 0 : s.kind === "station" ? 1 : s.poor ? 2 : 3; }
function overlaps(a, b) { return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h; }

// Leaflet puts a tooltip's string in as HTML: names come from the network file, so they
// are escaped (a name is text, never markup).
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
