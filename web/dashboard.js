// The officials' dashboard: thematic maps from the vector tiles (households per grid, staffing status, open and
// overdue incidents, incident heatmap) with legends, filters, headline figures and exports.
import { api, qs, API } from "./api.js";
import { t, fmt, onLangChange } from "./i18n.js";
import { bbox } from "./draw.js";

const $ = (id) => document.getElementById(id);
const STATUSES = ["上报", "受理", "派遣", "处置", "核查", "结案", "评价"];
const MODES = ["households", "staffing", "incidents", "heat"];
const HH_RAMP = ["interpolate", ["linear"], ["to-number", ["get", "households"]], 0, "#fff5eb", 250, "#fdd0a2", 400, "#fd8d3c", 550, "#d94801", 800, "#7f2704"];
const STAFF_COLOURS = ["match", ["get", "staffing_status"], "complete", "#1a9850", "incomplete", "#fdae61", "unstaffed", "#d73027", "#cccccc"];
const INC_COLOURS = ["case", [">", ["get", "overdue"], 0], "#d73027", [">", ["get", "open"], 0], "#fdae61", "#d9f0d3"];

export class Dashboard {
  constructor(ctx) {
    this.ctx = ctx;
    this.map = ctx.map;
    this.mode = "households";
    this.f = { street: "", community: "", category: "", status: "", from: "", to: "" };
    this.categories = [];
    this.figures = null;
    this.layers = ["db-hh", "db-staff", "db-inc", "db-inc-line", "db-heat", "db-line"];
  }

  async init() {
    try { this.categories = await api("/incidents/categories"); } catch { this.categories = []; }
    onLangChange(() => { if (!$("db-panel").hidden) { this.renderPanel(); this.renderLegend(); } });
  }

  tileUrl(layer, params) { return `${location.origin}/${API}/tiles/${layer}.json${qs(params)}`; }

  timeParams() {
    return { start: this.f.from ? `${this.f.from}T00:00:00+08:00` : "", end: this.f.to ? `${this.f.to}T23:59:59+08:00` : "" };
  }

  sourceUrls() {
    const { start, end } = this.timeParams();
    return {
      "db-grids": this.tileUrl("grids", {}),
      "db-staffing": this.tileUrl("staffing", {}),
      "db-counts": this.tileUrl("incident_counts", { category: this.f.category, start, end }),
      "db-density": this.tileUrl("incident_density", { category: this.f.category, status: this.f.status, start, end }),
    };
  }

  addLayers() {
    const map = this.map;
    const urls = this.sourceUrls();
    for (const [id, url] of Object.entries(urls)) {
      if (map.getSource(id)) map.getSource(id).setUrl(url); else map.addSource(id, { type: "vector", url });
    }
    if (map.getLayer("db-hh")) return;
    map.addLayer({ id: "db-hh", type: "fill", source: "db-grids", "source-layer": "grids", paint: { "fill-color": HH_RAMP, "fill-opacity": 0.8 } });
    map.addLayer({ id: "db-staff", type: "fill", source: "db-staffing", "source-layer": "staffing", paint: { "fill-color": STAFF_COLOURS, "fill-opacity": 0.7 } });
    map.addLayer({ id: "db-inc", type: "fill", source: "db-counts", "source-layer": "incident_counts", paint: { "fill-color": INC_COLOURS, "fill-opacity": 0.75 } });
    map.addLayer({ id: "db-inc-line", type: "line", source: "db-counts", "source-layer": "incident_counts", filter: [">", ["get", "overdue"], 0], paint: { "line-color": "#7f0000", "line-width": 2 } });
    map.addLayer({ id: "db-line", type: "line", source: "db-grids", "source-layer": "grids", paint: { "line-color": "#52606d", "line-width": 0.6 } });
    map.addLayer({
      id: "db-heat", type: "heatmap", source: "db-density", "source-layer": "incident_density",
      paint: {
        "heatmap-weight": ["interpolate", ["linear"], ["get", "count"], 0, 0, 10, 1],
        "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 10, 12, 16, 40],
        "heatmap-intensity": 1,
        "heatmap-opacity": 0.85,
        "heatmap-color": ["interpolate", ["linear"], ["heatmap-density"], 0, "rgba(33,102,172,0)", 0.2, "#67a9cf", 0.4, "#d1e5f0", 0.6, "#fddbc7", 0.8, "#ef8a62", 1, "#b2182b"],
      },
    });
  }

  applyLayerVisibility() {
    const visible = { households: ["db-hh", "db-line"], staffing: ["db-staff", "db-line"], incidents: ["db-inc", "db-inc-line", "db-line"], heat: ["db-heat", "db-line"] }[this.mode];
    const prefix = this.f.community || this.f.street;
    const filter = prefix ? ["==", ["slice", ["get", "community_code"], 0, prefix.length], prefix] : null;
    for (const id of this.layers) {
      if (!this.map.getLayer(id)) continue;
      this.map.setLayoutProperty(id, "visibility", this.active && visible.includes(id) ? "visible" : "none");
      if (id === "db-inc-line") this.map.setFilter(id, filter ? ["all", [">", ["get", "overdue"], 0], filter] : [">", ["get", "overdue"], 0]);
      else if (id !== "db-heat") this.map.setFilter(id, filter);
    }
  }

  show() {
    $("db-panel").hidden = false;
    this.active = true;
    this.addLayers();
    this.applyLayerVisibility();
    this.renderPanel();
    this.renderLegend();
    this.loadFigures();
  }

  hide() {
    $("db-panel").hidden = true;
    this.active = false;
    this.applyLayerVisibility();
  }

  renderLegend() {
    let body = "";
    if (this.mode === "households") {
      body = [[0, "#fff5eb"], [250, "#fdd0a2"], [400, "#fd8d3c"], [550, "#d94801"], [800, "#7f2704"]].map(([v, c]) => `<div><span class="sw" style="background:${c}"></span>${fmt(v)}${v === 800 ? "+" : ""}</div>`).join("");
    } else if (this.mode === "staffing") {
      body = [["complete", "#1a9850"], ["incomplete", "#fdae61"], ["unstaffed", "#d73027"]].map(([k, c]) => `<div><span class="sw" style="background:${c}"></span>${t(`staff_${k}`)}</div>`).join("");
    } else if (this.mode === "incidents") {
      body = [["inc_none", "#d9f0d3"], ["inc_open", "#fdae61"], ["inc_overdue", "#d73027"]].map(([k, c]) => `<div><span class="sw" style="background:${c}"></span>${t(k)}</div>`).join("");
    } else {
      body = `<div class="ramp" style="background:linear-gradient(90deg,#67a9cf,#d1e5f0,#fddbc7,#ef8a62,#b2182b)"></div><div class="row" style="justify-content:space-between"><span>${t("heat_low")}</span><span>${t("heat_high")}</span></div>`;
    }
    $("legend").innerHTML = `<h3 id="legend-title">${t(`layer_${this.mode}`)}</h3>${body}`;
  }

  scopeCommunities() {
    const streets = this.ctx.hierarchy.flatMap((d) => d.streets);
    if (this.f.community) return [this.f.community];
    if (this.f.street) return streets.find((s) => s.code === this.f.street)?.communities.map((c) => c.code) || [];
    return null;  // everything
  }

  async countIncidents(extra) {
    const { start, end } = this.timeParams();
    const base = { category: this.f.category, status: this.f.status, from: start, to: end, limit: 1, ...extra };
    const scope = this.scopeCommunities();
    if (!scope) return (await api(`/incidents${qs(base)}`)).total;
    const pages = await Promise.all(scope.map((c) => api(`/incidents${qs({ ...base, community: c })}`)));
    return pages.reduce((s, p) => s + p.total, 0);
  }

  async loadFigures() {
    const seq = (this.seq = (this.seq || 0) + 1);
    try {
      if (!this.grids) this.grids = (await api("/collections/grids/items?limit=10000")).features.map((f) => f.properties);
      if (!this.compliance) this.compliance = await api("/staff/compliance");
      const prefix = this.f.community || this.f.street;
      const inScope = (code) => !prefix || (code || "").startsWith(prefix);
      const grids = this.grids.filter((g) => inScope(g.community_code));
      const comp = this.compliance.grids.filter((g) => inScope(g.community_code));
      const [open, overdue] = await Promise.all([this.countIncidents({ open: true }), this.countIncidents({ overdue: true })]);
      if (seq !== this.seq) return;
      this.figures = {
        grids: grids.length,
        households: grids.reduce((s, g) => s + (g.households || 0), 0),
        staffCount: comp.reduce((s, g) => s + g.chiefs + g.fulltime + g.parttime, 0),
        staffingGaps: comp.filter((g) => g.status === "缺员").length,
        openInc: open,
        overdueInc: overdue,
      };
    } catch (e) { this.ctx.toast(`${t("error")}: ${e.message}`, "err"); }
    this.renderPanel();
  }

  exportCsv() {
    const rows = [["指标 figure", "数值 value"], ...Object.entries(this.figures || {}).map(([k, v]) => [`${STRINGSZH[k] || k} ${k}`, v])];
    const prefix = this.f.community || this.f.street;
    rows.push([], ["网格编码 code", "社区 community", "户数 households", "网格员 staff", "配备 staffing"]);
    for (const g of this.compliance?.grids || []) if (!prefix || g.community_code.startsWith(prefix)) rows.push([g.code, g.community_code, g.households, g.chiefs + g.fulltime + g.parttime, g.status]);
    const csv = "\ufeff" + rows.map((r) => r.map((v) => `"${String(v ?? "").replaceAll('"', '""')}"`).join(",")).join("\r\n");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
    a.download = `dashboard-${new Date().toISOString().slice(0, 10)}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  onFilter(key, value) {
    this.f[key] = value;
    if (key === "street") this.f.community = "";
    if (["category", "status", "from", "to"].includes(key)) this.addLayers();
    if (key === "street" || key === "community") this.zoomTo();
    this.applyLayerVisibility();
    this.renderPanel();
    this.loadFigures();
  }

  zoomTo() {
    const code = this.f.community || this.f.street;
    const feats = this.ctx.communities.features.filter((f) => code && f.properties.code.startsWith(code));
    if (!feats.length) return this.ctx.fitAll();
    const bs = feats.map((f) => bbox(f.geometry));
    this.map.fitBounds([[Math.min(...bs.map((b) => b[0])), Math.min(...bs.map((b) => b[1]))], [Math.max(...bs.map((b) => b[2])), Math.max(...bs.map((b) => b[3]))]], { padding: 30, duration: 0 });
  }

  renderPanel() {
    const panel = $("db-panel");
    const streets = this.ctx.hierarchy.flatMap((d) => d.streets);
    const comms = streets.filter((s) => !this.f.street || s.code === this.f.street).flatMap((s) => s.communities);
    const opt = (v, label, sel) => `<option value="${v}"${sel ? " selected" : ""}>${label}</option>`;
    const fig = this.figures;
    const card = (k, warn) => `<div class="figure${warn && fig && fig[k] > 0 ? " warn" : ""}" id="fig-${k}"><div class="v">${fig ? fmt(fig[k]) : "…"}</div><div class="k">${t(k === "households" ? "households" : k)}</div></div>`;
    panel.innerHTML = `
      <h2>${t("figures")}</h2>
      <div class="figures-grid">${card("grids")}${card("households")}${card("staffCount")}${card("staffingGaps", true)}${card("openInc")}${card("overdueInc", true)}</div>
      <h2>${t("layer")}</h2>
      <div class="row" id="db-modes">${MODES.map((m) => `<button type="button" id="mode-${m}" data-mode="${m}" class="${this.mode === m ? "active" : ""}">${t(`layer_${m}`)}</button>`).join("")}</div>
      <h2>${t("street")} / ${t("community")}</h2>
      <label>${t("street")}<select id="db-street">${opt("", t("all"))}${streets.map((s) => opt(s.code, s.name, s.code === this.f.street)).join("")}</select></label>
      <label>${t("community")}<select id="db-community">${opt("", t("all"))}${comms.map((c) => opt(c.code, c.name, c.code === this.f.community)).join("")}</select></label>
      <label>${t("category")}<select id="db-category">${opt("", t("all"))}${this.categories.map((c) => opt(c.name, c.name, c.name === this.f.category)).join("")}</select></label>
      <label>${t("status")}<select id="db-status">${opt("", t("all"))}${STATUSES.map((s) => opt(s, s, s === this.f.status)).join("")}</select></label>
      <label>${t("from")}<input type="date" id="db-from" value="${this.f.from}"></label>
      <label>${t("to")}<input type="date" id="db-to" value="${this.f.to}"></label>
      <h2>${t("export")}</h2>
      <div class="row">
        <button type="button" id="db-export-csv" ${fig ? "" : "disabled"}>${t("exportCsv")}</button>
        <a href="${API}/staff/compliance/export?format=xlsx" download><button type="button" tabindex="-1">${t("exportCompliance")}</button></a>
        <a href="${API}/staff/export?format=csv" download><button type="button" tabindex="-1">${t("exportRoster")}</button></a>
      </div>`;
    panel.querySelectorAll("[data-mode]").forEach((b) => { b.onclick = () => { this.mode = b.dataset.mode; this.applyLayerVisibility(); this.renderLegend(); this.renderPanel(); }; });
    for (const key of ["street", "community", "category", "status", "from", "to"]) $(`db-${key}`).onchange = (e) => this.onFilter(key, e.target.value);
    $("db-export-csv").onclick = () => this.exportCsv();
  }
}

const STRINGSZH = { grids: "网格数", households: "户数", staffCount: "网格员", staffingGaps: "缺员网格", openInc: "未结事件", overdueInc: "超期事件" };
