// The officials' dashboard: thematic maps of the published plan's grids (households per grid, staffing status,
// incidents per grid, incident heatmap) with legends, filters, headline figures and exports.
//
// One selection drives everything: the place filter (street / community) narrows the grids drawn and every
// figure; category, status and time range narrow the incidents. The grids come from the vector tiles (keyed by
// code); staffing comes from /staff/compliance and the incident counts and heat from /dashboard/incidents, and
// are painted onto the grids as feature state, so a figure and the map it sits next to always count the same.
import { api, qs, API } from "./api.js";
import { t, fmt, onLangChange } from "./i18n.js";
import { bbox } from "./draw.js";
import * as echarts from "./node_modules/echarts/dist/echarts.esm.min.mjs";

const $ = (id) => document.getElementById(id);
const STATUSES = ["上报", "受理", "派遣", "处置", "核查", "结案", "评价"];
const MODES = ["households", "staffing", "incidents", "heat"];
const HH_STOPS = [[0, "#fff5eb"], [250, "#fdd0a2"], [400, "#fd8d3c"], [550, "#d94801"], [800, "#7f2704"]];
const HH_RAMP = ["interpolate", ["linear"], ["to-number", ["get", "households"]], ...HH_STOPS.flat()];
const STAFF = [["配齐", "staff_full", "#1a9850"], ["超负荷", "staff_overloaded", "#fdae61"], ["缺员", "staff_short", "#d73027"]];
const STAFF_COLOURS = ["match", ["coalesce", ["feature-state", "staffing"], ""], ...STAFF.flatMap(([s, , c]) => [s, c]), "#cccccc"];
const INC = [["inc_none", "#d9f0d3"], ["inc_closed", "#9ecae1"], ["inc_open", "#fdae61"], ["inc_overdue", "#d73027"]];
const state = (k) => ["coalesce", ["feature-state", k], 0];
const INC_COLOURS = ["case", [">", state("overdue"), 0], INC[3][1], [">", state("open"), 0], INC[2][1], [">", state("matching"), 0], INC[1][1], INC[0][1]];
const HEAT_COLOURS = ["#67a9cf", "#d1e5f0", "#fddbc7", "#ef8a62", "#b2182b"];

export class Dashboard {
  constructor(ctx) {
    this.ctx = ctx;
    this.map = ctx.map;
    this.mode = "households";
    this.f = { street: "", community: "", category: "", status: "", from: "", to: "" };
    this.categories = [];
    this.figures = null;
    this.incidents = null;  // the /dashboard/incidents answer for the current filters
    this.compliance = null;
    this.layers = ["db-hh", "db-staff", "db-inc", "db-inc-line", "db-heat", "db-line"];
  }

  async init() {
    try { this.categories = await api("/incidents/categories"); } catch { this.categories = []; }
    onLangChange(() => { if (!$("db-panel").hidden) { this.renderPanel(); this.renderLegend(); this.renderCharts(); } });
  }

  /** The place the filters name, as a code prefix ("" = everywhere). */
  place() { return this.f.community || this.f.street; }
  inPlace(code) { const p = this.place(); return !p || (code || "").startsWith(p); }

  /** Incident filters as /dashboard/incidents takes them; a "to" date includes that whole day. */
  incidentParams() {
    const next = (d) => { const x = new Date(`${d}T00:00:00+08:00`); x.setUTCDate(x.getUTCDate() + 1); return x.toISOString(); };
    return {
      street: this.f.community ? "" : this.f.street, community: this.f.community, category: this.f.category, status: this.f.status,
      start: this.f.from ? `${this.f.from}T00:00:00+08:00` : "", end: this.f.to ? next(this.f.to) : "",
    };
  }

  addLayers() {
    const map = this.map;
    if (map.getLayer("db-hh")) return;
    // promoteId: staffing and incident counts are keyed by grid code, which stays the same across plans.
    map.addSource("db-grids", { type: "vector", url: `${location.origin}/${API}/tiles/grids.json`, promoteId: "code" });
    map.addSource("db-heat-src", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    const grids = { source: "db-grids", "source-layer": "grids" };
    map.addLayer({ id: "db-hh", type: "fill", ...grids, paint: { "fill-color": HH_RAMP, "fill-opacity": 0.8 } });
    map.addLayer({ id: "db-staff", type: "fill", ...grids, paint: { "fill-color": STAFF_COLOURS, "fill-opacity": 0.7 } });
    map.addLayer({ id: "db-inc", type: "fill", ...grids, paint: { "fill-color": INC_COLOURS, "fill-opacity": 0.75 } });
    map.addLayer({ id: "db-inc-line", type: "line", ...grids, paint: { "line-color": "#7f0000", "line-width": ["case", [">", state("overdue"), 0], 2, 0] } });
    map.addLayer({ id: "db-line", type: "line", ...grids, paint: { "line-color": "#52606d", "line-width": 0.6 } });
    map.addLayer({
      id: "db-heat", type: "heatmap", source: "db-heat-src",
      paint: {
        "heatmap-weight": ["interpolate", ["linear"], ["get", "count"], 0, 0, 10, 1],
        "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 10, 12, 16, 40],
        "heatmap-intensity": 1,
        "heatmap-opacity": 0.85,
        "heatmap-color": ["interpolate", ["linear"], ["heatmap-density"], 0, "rgba(33,102,172,0)", 0.2, HEAT_COLOURS[0], 0.4, HEAT_COLOURS[1], 0.6, HEAT_COLOURS[2], 0.8, HEAT_COLOURS[3], 1, HEAT_COLOURS[4]],
      },
    });
  }

  applyLayerVisibility() {
    const visible = { households: ["db-hh", "db-line"], staffing: ["db-staff", "db-line"], incidents: ["db-inc", "db-inc-line", "db-line"], heat: ["db-heat", "db-line"] }[this.mode];
    const prefix = this.place();
    const filter = prefix ? ["==", ["slice", ["get", "community_code"], 0, prefix.length], prefix] : null;
    for (const id of this.layers) {
      if (!this.map.getLayer(id)) continue;
      this.map.setLayoutProperty(id, "visibility", this.active && visible.includes(id) ? "visible" : "none");
      // The heat is already narrowed by the server (its bins carry no community).
      if (id !== "db-heat") this.map.setFilter(id, filter);
    }
  }

  /** Paint staffing and incident counts onto the grids (feature state by code) and the heat source. */
  paint() {
    const map = this.map;
    if (!map.getSource("db-grids")) return;
    map.removeFeatureState({ source: "db-grids", sourceLayer: "grids" });
    for (const g of this.compliance?.grids || []) map.setFeatureState({ source: "db-grids", sourceLayer: "grids", id: g.code }, { staffing: g.status });
    for (const g of this.incidents?.grids || []) map.setFeatureState({ source: "db-grids", sourceLayer: "grids", id: g.code }, { matching: g.matching, open: g.open, overdue: g.overdue });
    map.getSource("db-heat-src").setData(this.incidents?.heat || { type: "FeatureCollection", features: [] });
  }

  show() {
    $("db-panel").hidden = false;
    $("db-charts").hidden = false;
    this.active = true;
    this.addLayers();
    this.applyLayerVisibility();
    this.renderPanel();
    this.renderLegend();
    this.load();
  }

  hide() {
    $("db-panel").hidden = true;
    $("db-charts").hidden = true;
    this.active = false;
    this.applyLayerVisibility();
  }

  renderLegend() {
    const sw = (c, label) => `<div><span class="sw" style="background:${c}"></span>${label}</div>`;
    let body = "";
    if (this.mode === "households") body = HH_STOPS.map(([v, c], i) => sw(c, i < HH_STOPS.length - 1 ? `${fmt(v)}–${fmt(HH_STOPS[i + 1][0])}` : `${fmt(v)}+`)).join("");
    else if (this.mode === "staffing") body = STAFF.map(([, k, c]) => sw(c, t(k))).join("") + sw("#cccccc", t("staff_unknown"));
    else if (this.mode === "incidents") body = INC.map(([k, c]) => sw(c, t(k))).join("");
    else body = `<div class="ramp" style="background:linear-gradient(90deg,${HEAT_COLOURS.join(",")})"></div><div class="row" style="justify-content:space-between"><span>${t("heat_low")}</span><span>${t("heat_high")}</span></div>`;
    const filtered = this.mode === "incidents" || this.mode === "heat" ? this.filterNote() : "";
    $("legend").innerHTML = `<h3 id="legend-title">${t(`layer_${this.mode}`)}</h3>${body}${filtered ? `<p class="help" id="legend-filters">${filtered}</p>` : ""}`;
  }

  /** The incident filters in force, in words, for the legend and the export. */
  filterNote() {
    const parts = [];
    if (this.f.category) parts.push(`${t("category")}：${this.f.category}`);
    if (this.f.status) parts.push(`${t("status")}：${this.f.status}`);
    if (this.f.from || this.f.to) parts.push(`${this.f.from || "…"} ~ ${this.f.to || "…"}`);
    return parts.join("；");
  }

  /** Fetch what the filters select, then the figures and the map from it. */
  async load() {
    const seq = (this.seq = (this.seq || 0) + 1);
    this.figures = null;
    this.renderPanel();
    try {
      const [compliance, incidents, charts] = await Promise.all([
        this.compliance ? this.compliance : api("/staff/compliance"),
        api(`/dashboard/incidents${qs(this.incidentParams())}`),
        api(`/dashboard/charts${qs(this.incidentParams())}`),
      ]);
      if (seq !== this.seq) return;
      this.compliance = compliance;
      this.incidents = incidents;
      this.charts = charts;
      const grids = compliance.grids.filter((g) => this.inPlace(g.community_code));
      this.figures = {
        grids: grids.length,
        households: grids.reduce((s, g) => s + (g.households || 0), 0),
        staffCount: grids.reduce((s, g) => s + g.chiefs + g.fulltime + g.parttime, 0),
        staffingGaps: grids.filter((g) => g.status === "缺员").length,
        openInc: incidents.totals.open,
        overdueInc: incidents.totals.overdue,
        matchingInc: incidents.totals.matching,
      };
      this.paint();
    } catch (e) { this.ctx.toast(`${t("error")}: ${e.message}`, "err"); }
    this.renderPanel();
    this.renderLegend();
    this.renderCharts();
  }

  /** A chart's ECharts option as drawn (tests read what the charts show). */
  chartOption(id) { return echarts.getInstanceByDom($(id))?.getOption(); }

  /** Where on the page the bar of row ``row`` of a horizontal bar chart is (a point inside it). */
  barPoint(id, row) {
    const inst = echarts.getInstanceByDom($(id));
    const series = inst.getOption().series;
    const total = series.reduce((s, x) => s + (x.data[row] || 0), 0);
    const [x, y] = inst.convertToPixel({ xAxisIndex: 0, yAxisIndex: 0 }, [total / 2, row]);
    const box = $(id).getBoundingClientRect();
    return { x: box.left + x, y: box.top + y };
  }

  /** The four charts from /dashboard/charts and the staffing compliance, under the same filters as the figures. */
  renderCharts() {
    const c = this.charts;
    if (!c) return;
    const chart = (id) => echarts.getInstanceByDom($(id)) || echarts.init($(id), null, { renderer: "canvas" });
    const base = { animation: false, grid: { left: 40, right: 12, top: 28, bottom: 28 }, tooltip: { trigger: "axis" },
      textStyle: { fontSize: 11 }, legend: { top: 0, itemWidth: 12, textStyle: { fontSize: 11 } } };
    $("charts-empty").hidden = c.totals.count > 0;
    chart("chart-time").setOption({
      ...base, title: { text: t("chart_time"), left: "right", textStyle: { fontSize: 12 } },
      xAxis: { type: "category", data: c.over_time.map((r) => r.period) }, yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: t("reported"), type: "line", data: c.over_time.map((r) => r.reported), showSymbol: c.over_time.length < 40 },
        { name: t("closedInc"), type: "line", data: c.over_time.map((r) => r.closed), showSymbol: c.over_time.length < 40 },
      ],
    }, true);
    const bars = (id, title, rows, label, onClick) => {
      const inst = chart(id);
      inst.setOption({
        ...base, title: { text: title, left: "right", textStyle: { fontSize: 12 } }, grid: { ...base.grid, left: 88 },
        yAxis: { type: "category", inverse: true, data: rows.map(label), axisLabel: { width: 80, overflow: "truncate" } },
        xAxis: { type: "value", minInterval: 1 },
        series: [
          { name: t("openInc"), type: "bar", stack: "n", data: rows.map((r) => r.open - r.overdue) },
          { name: t("overdueInc"), type: "bar", stack: "n", data: rows.map((r) => r.overdue), itemStyle: { color: "#d73027" } },
          { name: t("closedInc"), type: "bar", stack: "n", data: rows.map((r) => r.closed), itemStyle: { color: "#9ecae1" } },
        ],
      }, true);
      inst.off("click");
      if (onClick) inst.on("click", (e) => onClick(rows[e.dataIndex]));
    };
    bars("chart-category", t("chart_category"), c.by_category.slice(0, 12), (r) => r.category,
      (r) => this.onFilter("category", this.f.category === r.category ? "" : r.category));
    const level = c.ranking.level;
    bars("chart-ranking", t(`chart_ranking_${level}`), c.ranking.places.slice(0, 12), (r) => r.name,
      (r) => this.onFilter(level === "street" ? "street" : "community", r.code));
    // Staffing compliance per community: the share of its grids with a 网格长 and a 专职网格员 (配齐).
    const names = new Map(this.ctx.hierarchy.flatMap((d) => d.streets.flatMap((s) => s.communities)).map((x) => [x.code, x.name]));
    const per = new Map();
    for (const g of this.compliance?.grids || []) {
      if (!this.inPlace(g.community_code)) continue;
      const e = per.get(g.community_code) || { grids: 0, full: 0 };
      e.grids += 1; e.full += g.status === "配齐" ? 1 : 0;
      per.set(g.community_code, e);
    }
    const staffing = [...per.entries()].map(([code, e]) => ({ code, name: names.get(code) || code, rate: e.full / e.grids }))
      .sort((a, b) => a.rate - b.rate || a.code.localeCompare(b.code)).slice(0, 12);
    chart("chart-staffing").setOption({
      ...base, title: { text: t("chart_staffing"), left: "right", textStyle: { fontSize: 12 } }, grid: { ...base.grid, left: 88 },
      tooltip: { trigger: "axis", valueFormatter: (v) => `${Math.round(v * 100)}%` },
      yAxis: { type: "category", inverse: true, data: staffing.map((r) => r.name), axisLabel: { width: 80, overflow: "truncate" } },
      xAxis: { type: "value", max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
      series: [{ name: t("compliance"), type: "bar", data: staffing.map((r) => r.rate), itemStyle: { color: "#1a9850" } }],
    }, true);
    chart("chart-staffing").off("click");
    chart("chart-staffing").on("click", (e) => this.onFilter("community", staffing[e.dataIndex].code));
  }

  exportCsv() {
    const f = this.f;
    const cell = (v) => `"${String(v ?? "").replaceAll('"', '""')}"`;
    const rows = [["筛选 filter", "值 value"],
      ["街道 street", f.street || "全部 all"], ["社区 community", f.community || "全部 all"], ["事件类别 category", f.category || "全部 all"],
      ["事件状态 status", f.status || "全部 all"], ["起始 from", f.from], ["截止 to", f.to], [],
      ["指标 figure", "数值 value"], ...Object.entries(this.figures || {}).map(([k, v]) => [`${FIGURES_ZH[k] || k} ${k}`, v]), [],
      ["网格编码 code", "社区 community", "户数 households", "网格员 staff", "配备 staffing", "事件 incidents", "未结 open", "超期 overdue"]];
    const inc = new Map((this.incidents?.grids || []).map((g) => [g.code, g]));
    for (const g of this.compliance?.grids || []) {
      if (!this.inPlace(g.community_code)) continue;
      const c = inc.get(g.code) || {};
      rows.push([g.code, g.community_code, g.households, g.chiefs + g.fulltime + g.parttime, g.status, c.matching || 0, c.open || 0, c.overdue || 0]);
    }
    const csv = "\ufeff" + rows.map((r) => r.map(cell).join(",")).join("\r\n");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
    a.download = `dashboard-${new Date().toISOString().slice(0, 10)}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  onFilter(key, value) {
    if (this.f[key] === value) return;  // no change (a date input reverted after a refused range fires again)
    this.rangeError = false;
    if (key === "from" || key === "to") {
      // A start after the end selects nothing: say so where the dates are and keep every figure as it was.
      const from = key === "from" ? value : this.f.from, to = key === "to" ? value : this.f.to;
      this.rangeError = Boolean(from && to && from > to);
      if (this.rangeError) { this.renderPanel(); $(`db-${key}`).focus(); return; }
    }
    this.f[key] = value;
    if (key === "street") this.f.community = "";
    if (key === "street" || key === "community") this.zoomTo();
    this.applyLayerVisibility();
    this.load();
  }

  zoomTo() {
    const code = this.place();
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
    const card = (k, warn) => `<div class="figure${warn && fig && fig[k] > 0 ? " warn" : ""}" id="fig-${k}"><div class="v">${fig ? fmt(fig[k]) : "…"}</div><div class="k">${t(k)}</div></div>`;
    const scope = this.place() ? [...streets, ...streets.flatMap((s) => s.communities)].find((x) => x.code === this.place())?.name : t("all");
    panel.innerHTML = `
      <h2>${t("figures")} <span class="help" id="db-scope">${scope || ""}</span></h2>
      <div class="figures-grid">${card("grids")}${card("households")}${card("staffCount")}${card("staffingGaps", true)}${card("openInc")}${card("overdueInc", true)}${card("matchingInc")}</div>
      <p class="help">${t("figuresNote")}</p>
      <h2>${t("layer")}</h2>
      <div class="row" id="db-modes">${MODES.map((m) => `<button type="button" id="mode-${m}" data-mode="${m}" class="${this.mode === m ? "active" : ""}">${t(`layer_${m}`)}</button>`).join("")}</div>
      <h2>${t("filters")}</h2>
      <label>${t("street")}<select id="db-street">${opt("", t("all"))}${streets.map((s) => opt(s.code, s.name, s.code === this.f.street)).join("")}</select></label>
      <label>${t("community")}<select id="db-community">${opt("", t("all"))}${comms.map((c) => opt(c.code, c.name, c.code === this.f.community)).join("")}</select></label>
      <label>${t("category")}<select id="db-category">${opt("", t("all"))}${this.categories.map((c) => opt(c.name, c.name, c.name === this.f.category)).join("")}</select></label>
      <label>${t("status")}<select id="db-status">${opt("", t("all"))}${STATUSES.map((s) => opt(s, s, s === this.f.status)).join("")}</select></label>
      <label>${t("from")}<input type="date" id="db-from" value="${this.f.from}"></label>
      <label>${t("to")}<input type="date" id="db-to" value="${this.f.to}"></label>
      ${this.rangeError ? `<p class="error" id="db-range-error" role="alert">${t("badDateRange")}</p>` : ""}
      <h2>${t("export")}</h2>
      <div class="row">
        <button type="button" id="db-export-csv" ${fig ? "" : "disabled"}>${t("exportCsv")}</button>
        <a href="${API}/staff/compliance/export?format=xlsx" download><button type="button" tabindex="-1">${t("exportCompliance")}</button></a>
        <a href="${API}/staff/export?format=csv" download><button type="button" tabindex="-1">${t("exportRoster")}</button></a>
      </div>
      <p class="help">${t("exportNote")}</p>`;
    panel.querySelectorAll("[data-mode]").forEach((b) => { b.onclick = () => { this.mode = b.dataset.mode; this.applyLayerVisibility(); this.renderLegend(); this.renderPanel(); }; });
    for (const key of ["street", "community", "category", "status", "from", "to"]) $(`db-${key}`).onchange = (e) => this.onFilter(key, e.target.value);
    $("db-export-csv").onclick = () => this.exportCsv();
  }
}

const FIGURES_ZH = { grids: "网格数", households: "户数", staffCount: "网格员", staffingGaps: "缺员网格", openInc: "未结事件", overdueInc: "超期事件", matchingInc: "符合筛选的事件" };
