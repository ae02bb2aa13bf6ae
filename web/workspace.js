// The planner workspace: choose a place and a plan, inspect grids, edit a draft (split, merge, reshape, move
// buildings, re-plan), undo/redo, validation and diff layers, publish. Every edit sends the plan's lock_version;
// a 409 reloads the plan and keeps the drawn line so the planner can retry.
import { api, qs } from "./api.js";
import { t, fmt, onLangChange } from "./i18n.js";
import { LineDraw, BoxSelect, bbox } from "./draw.js";

const $ = (id) => document.getElementById(id);
const EMPTY = { type: "FeatureCollection", features: [] };
const SIZE_COLOURS = ["match", ["get", "size_status"], "under", "#74add1", "over", "#f46d43", "dedicated", "#b39ddb", "#a6d96a"];
const CHANGE_COLOURS = ["match", ["get", "change"], "added", "#1a9850", "removed", "#d73027", "changed", "#fdae61", "#999999"];
const TOOLS = ["select", "split", "merge", "reshape", "move", "replan"];

export class Workspace {
  constructor(ctx) {
    this.ctx = ctx;
    this.map = ctx.map;
    this.plans = [];
    this.plan = null;
    this.tool = "select";
    this.selected = [];
    this.pending = null;  // {kind, body(line)} of the edit the drawn line belongs to, for a retry
    this.message = null;
    this.validation = null;
    this.diff = null;
    this.info = null;
    this.moveSel = new Map();  // building id -> households, the buildings picked to move
    this.moveTarget = null;  // {id, code} of the grid they go to
    this.buildingsNote = "";
    this.layers = ["ws-grids-fill", "ws-grids-line", "ws-grids-sel", "ws-grids-problem", "ws-validation-fill", "ws-validation-line", "ws-diff-fill", "ws-diff-line",
      "ws-buildings-fill", "ws-buildings-line", "ws-buildings-pt", "ws-place-line", "ws-draw-line", "ws-draw-pts"];
  }

  async init() {
    const map = this.map;
    map.addSource("ws-validation", { type: "geojson", data: EMPTY });
    map.addSource("ws-diff", { type: "geojson", data: EMPTY });
    map.addSource("ws-draw", { type: "geojson", data: EMPTY });
    map.addSource("ws-buildings", { type: "geojson", data: EMPTY });
    map.addSource("ws-place", { type: "geojson", data: EMPTY });
    this.draw = new LineDraw(map, "ws-draw");
    this.box = new BoxSelect(map, (a, b) => this.selectBox(a, b));
    await this.loadPlans();
    this.renderPanel();
    onLangChange(() => { if (!$("ws-panel").hidden) { this.renderPanel(); this.renderLegend(); } });
    map.on("click", (e) => this.onMapClick(e));
    map.on("moveend", () => { if (this.active && this.tool === "move") this.loadBuildings(); });
  }

  // --- map layers ---------------------------------------------------------------------------------------
  gridSourceUrl() { return `${location.origin}/api/v1/tiles/grids.json${qs({ plan: this.plan?.id })}`; }

  addGridLayers() {
    const map = this.map;
    for (const id of this.layers) if (map.getLayer(id)) map.removeLayer(id);
    if (map.getSource("ws-grids")) map.removeSource("ws-grids");
    if (!this.plan) return;
    map.addSource("ws-grids", { type: "vector", url: this.gridSourceUrl() });
    const src = { source: "ws-grids", "source-layer": "grids" };
    map.addLayer({ id: "ws-grids-fill", type: "fill", ...src, paint: { "fill-color": SIZE_COLOURS, "fill-opacity": 0.55 } });
    map.addLayer({ id: "ws-grids-line", type: "line", ...src, paint: { "line-color": "#334e68", "line-width": 1 } });
    map.addLayer({ id: "ws-grids-problem", type: "line", ...src, paint: { "line-color": "#d7191c", "line-dasharray": [2, 1], "line-width": ["case", ["boolean", ["feature-state", "problem"], false], 2.5, 0] } });
    map.addLayer({ id: "ws-grids-sel", type: "line", ...src, paint: { "line-color": "#ffb300", "line-width": ["case", ["boolean", ["feature-state", "selected"], false], 4, 0] } });
    map.addLayer({ id: "ws-diff-fill", type: "fill", source: "ws-diff", filter: ["!=", ["get", "change"], "unchanged"], paint: { "fill-color": CHANGE_COLOURS, "fill-opacity": 0.45 } });
    map.addLayer({ id: "ws-diff-line", type: "line", source: "ws-diff", filter: ["!=", ["get", "change"], "unchanged"], paint: { "line-color": CHANGE_COLOURS, "line-width": 2 } });
    map.addLayer({ id: "ws-validation-fill", type: "fill", source: "ws-validation", paint: { "fill-color": "#d7191c", "fill-opacity": 0.35 } });
    map.addLayer({ id: "ws-validation-line", type: "line", source: "ws-validation", paint: { "line-color": "#d7191c", "line-width": 2.5, "line-dasharray": [2, 1] } });
    const sel = ["boolean", ["feature-state", "selected"], false];
    map.addLayer({ id: "ws-buildings-fill", type: "fill", source: "ws-buildings", filter: ["!=", ["geometry-type"], "Point"], paint: { "fill-color": ["case", sel, "#e91e63", "#52606d"], "fill-opacity": ["case", sel, 0.9, 0.55] } });
    map.addLayer({ id: "ws-buildings-line", type: "line", source: "ws-buildings", filter: ["!=", ["geometry-type"], "Point"], paint: { "line-color": ["case", sel, "#880e4f", "#243b53"], "line-width": ["case", sel, 2, 0.5] } });
    map.addLayer({ id: "ws-buildings-pt", type: "circle", source: "ws-buildings", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 5, "circle-color": ["case", sel, "#e91e63", "#52606d"], "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addLayer({ id: "ws-place-line", type: "line", source: "ws-place", paint: { "line-color": "#0f4c81", "line-width": 3.5, "line-dasharray": [3, 1.5] } });
    map.addLayer({ id: "ws-draw-line", type: "line", source: "ws-draw", paint: { "line-color": "#e91e63", "line-width": 3 } });
    map.addLayer({ id: "ws-draw-pts", type: "circle", source: "ws-draw", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 5, "circle-color": "#e91e63", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
  }

  /** Re-read the grid tiles (the server dropped the tiles an edit touched). */
  refreshGrids() {
    const src = this.map.getSource("ws-grids");
    if (src) src.setUrl(this.gridSourceUrl());
  }

  setSelected(ids) {
    for (const id of this.selected) this.map.setFeatureState({ source: "ws-grids", sourceLayer: "grids", id }, { selected: false });
    this.selected = ids;
    for (const id of ids) this.map.setFeatureState({ source: "ws-grids", sourceLayer: "grids", id }, { selected: true });
  }

  show() {
    $("ws-panel").hidden = false;
    if (!this.map.getSource("ws-grids")) this.addGridLayers();
    for (const id of this.layers) if (this.map.getLayer(id)) this.map.setLayoutProperty(id, "visibility", "visible");
    this.active = true;
    this.renderPanel();
    this.renderLegend();
    if (this.plan && this.isDraft()) this.loadValidation();
  }

  hide() {
    $("ws-panel").hidden = true;
    this.active = false;
    this.draw.stop();
    for (const id of this.layers) if (this.map.getLayer(id)) this.map.setLayoutProperty(id, "visibility", "none");
  }

  renderLegend() {
    const items = [["under", "#74add1"], ["within", "#a6d96a"], ["over", "#f46d43"], ["dedicated", "#b39ddb"]]
      .map(([k, c]) => `<div><span class="sw" style="background:${c}"></span>${t(`size_${k}`)}</div>`).join("");
    const diff = this.diff ? `<h3>${t("diff")}</h3>` + [["added", "#1a9850"], ["changedGrids", "#fdae61"], ["removedGrids", "#d73027"]]
      .map(([k, c]) => `<div><span class="sw" style="background:${c}"></span>${t(k)}</div>`).join("") : "";
    const sw = (c, label, border = "") => `<div><span class="sw" style="background:${c};${border}"></span>${label}</div>`;
    const move = this.tool === "move" ? `<h3>${t("tool_move")}</h3>${sw("#52606d", t("legendBuildings"))}${sw("#e91e63", t("legendSelectedBuildings"))}` : "";
    const place = this.community || this.street ? sw("transparent", t(this.community ? "community" : "street"), "border:3px dashed #0f4c81") : "";
    $("legend").innerHTML = `<h3>${t("sizeStatus")}</h3>${items}${sw("#d7191c", t("validation"))}${sw("transparent", t("legendTarget"), "border:3px solid #ffb300")}${place}${move}${diff}`;
  }

  // --- plans --------------------------------------------------------------------------------------------
  isDraft() { return this.plan?.status === "draft"; }

  async loadPlans(preferId = null) {
    this.plans = await api("/plans");
    const keep = preferId ?? this.plan?.id;
    // A planner lands on their own newest draft (the list is newest first), else the published plan: never
    // on a colleague's draft. An admin, who reviews and publishes, lands on the newest draft of anyone's.
    const me = this.ctx.user?.username;
    const drafts = this.plans.filter((p) => p.status === "draft");
    this.plan = this.plans.find((p) => p.id === keep) || drafts.find((p) => p.created_by === me)
      || (this.isAdmin() ? drafts[0] : null) || this.plans.find((p) => p.status === "published") || drafts[0] || null;
  }

  /** Whether this user may rename or delete the plan shown: an admin any draft, a planner their own. */
  mayChangePlan() {
    const u = this.ctx.user;
    return Boolean(this.plan && this.plan.status === "draft" && (!u || u.role === "admin" || this.plan.created_by === u.username));
  }
  isAdmin() { return !this.ctx.user || this.ctx.user.role === "admin"; }

  async renamePlan() {
    const input = Object.assign(document.createElement("input"), { id: "ws-rename-input", value: this.plan.name, maxLength: 200 });
    if (!(await this.ctx.confirm(t("renamePrompt"), input))) return;
    try {
      const p = await api(`/plans/${this.plan.id}`, { method: "PATCH", body: { name: input.value } });
      await this.loadPlans(p.id);
      this.say(t("renamed"), "ok");
      this.renderPanel();
    } catch (e) { this.fail(e); }
  }

  async deletePlan() {
    if (!(await this.ctx.confirm(`${t("deleteConfirm")}「${this.plan.name}」`))) return;
    const gone = this.plan.id;
    try {
      await api(`/plans/${gone}`, { method: "DELETE" });
      this.plan = null;
      await this.loadPlans();
      await this.choosePlan(this.plan?.id);
      this.say(t("deleted"), "ok");
    } catch (e) { this.fail(e); }
  }

  async choosePlan(id) {
    this.plan = this.plans.find((p) => p.id === Number(id)) || null;
    this.resetEditing();
    this.validation = null;
    this.diff = null;
    this.map.getSource("ws-validation").setData(EMPTY);
    this.map.getSource("ws-diff").setData(EMPTY);
    this.addGridLayers();
    this.renderPanel();
    if (this.isDraft()) await this.loadValidation();
  }

  /** The plan as the server has it now (lock_version, status); tiles re-read. */
  async reloadPlan() {
    this.plan = await api(`/plans/${this.plan.id}`);
    const i = this.plans.findIndex((p) => p.id === this.plan.id);
    if (i >= 0) this.plans[i] = this.plan;
    this.refreshGrids();
    this.setSelected(this.selected);  // keep what the planner picked highlighted on the re-read tiles
    await this.loadValidation();
    this.renderPanel();
  }

  async newDraft() {
    const name = `${t("draft")} ${new Date().toLocaleString(undefined, { hour12: false })}`;
    try {
      const plan = await api("/plans", { method: "POST", body: { name, from_published: true } });
      await this.loadPlans(plan.id);
      await this.choosePlan(plan.id);
    } catch (e) { this.fail(e); }
  }

  // --- messages -----------------------------------------------------------------------------------------
  say(text, kind = "info") { this.message = { text, kind }; this.renderMessage(); }
  fail(e) { this.say(`${t("error")}: ${e.message}`, "err"); }
  renderMessage() {
    const el = $("ws-message");
    if (!el) return;
    el.hidden = !this.message;
    if (this.message) { el.className = `msg ${this.message.kind}`; el.textContent = this.message.text; }
  }

  // --- tools --------------------------------------------------------------------------------------------
  resetEditing() {
    this.draw.clear();
    this.setSelected([]);
    this.pending = null;
    this.clearMove();
  }

  setTool(tool) {
    this.tool = tool;
    this.resetEditing();
    this.message = null;
    this.box.enable(tool === "move");
    if (tool === "move") this.loadBuildings(); else { this.map.getSource("ws-buildings").setData(EMPTY); this.buildingsNote = ""; }
    this.renderPanel();
    this.renderLegend();
  }

  // --- move buildings -----------------------------------------------------------------------------------
  /** The buildings in view, each with the draft grid holding it; too far out, none (there could be many). */
  async loadBuildings() {
    if (!this.plan) return;
    const map = this.map;
    if (map.getZoom() < 14) {
      map.getSource("ws-buildings").setData(EMPTY);
      this.buildingsNote = t("zoomInBuildings");
      return this.renderPanel();
    }
    const b = map.getBounds();
    const seq = (this.buildingsSeq = (this.buildingsSeq || 0) + 1);
    try {
      const fc = await api(`/plans/${this.plan.id}/buildings${qs({ bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",") })}`);
      if (seq !== this.buildingsSeq || this.tool !== "move") return;
      map.getSource("ws-buildings").setData(fc);
      this.buildings = new Map(fc.features.map((f) => [f.id, f.properties]));
      for (const id of this.moveSel.keys()) map.setFeatureState({ source: "ws-buildings", id }, { selected: true });
      this.buildingsNote = fc.truncated ? t("buildingsTruncated") : "";
    } catch (e) { this.fail(e); }
    this.renderPanel();
  }

  buildingsAt(point, pad = 3) {
    const box = [[point.x - pad, point.y - pad], [point.x + pad, point.y + pad]];
    return this.map.queryRenderedFeatures(box, { layers: ["ws-buildings-fill", "ws-buildings-pt"] });
  }

  toggleBuildings(feats, on = null) {
    for (const f of feats) {
      const want = on ?? !this.moveSel.has(f.id);
      if (want) this.moveSel.set(f.id, f.properties.households || 0); else this.moveSel.delete(f.id);
      this.map.setFeatureState({ source: "ws-buildings", id: f.id }, { selected: want });
    }
    this.message = null;
    this.renderPanel();
  }

  /** Shift-drag: add every building in the box to the selection. */
  selectBox(a, b) {
    if (!this.active || this.tool !== "move") return;
    const feats = this.map.queryRenderedFeatures([[Math.min(a.x, b.x), Math.min(a.y, b.y)], [Math.max(a.x, b.x), Math.max(a.y, b.y)]], { layers: ["ws-buildings-fill", "ws-buildings-pt"] });
    const seen = new Set();
    this.toggleBuildings(feats.filter((f) => !seen.has(f.id) && seen.add(f.id)), true);
  }

  clearMove() {
    for (const id of this.moveSel.keys()) this.map.setFeatureState({ source: "ws-buildings", id }, { selected: false });
    this.moveSel = new Map();
    this.moveTarget = null;
  }

  async moveBuildings() {
    if (!this.moveSel.size) return this.say(t("needBuildings"), "err");
    if (!this.moveTarget) return this.say(t("needTarget"), "err");
    await this.edit("move-buildings", { building_ids: [...this.moveSel.keys()], to_grid_id: this.moveTarget.id });
  }

  gridAt(point) {
    const f = this.map.queryRenderedFeatures(point, { layers: ["ws-grids-fill"] })[0];
    return f || null;
  }

  /** Select the grid with ``code`` once the map has drawn where the search zoomed to (and show its info). */
  async selectByCode(code) {
    if (!this.active || !this.plan) return;
    const drawn = new Promise((resolve) => this.map.once("idle", resolve));
    this.map.triggerRepaint();  // idle comes after a frame, also when the view did not change
    await drawn;
    const f = this.map.queryRenderedFeatures({ layers: ["ws-grids-fill"] }).find((x) => x.properties.code === code);
    if (!f) return;
    this.setSelected([f.id]);
    await this.showInfo(f.properties);
    this.renderPanel();
  }

  async onMapClick(e) {
    if (!this.active || this.draw.active || !this.plan) return;
    if (this.tool === "move" && this.buildingsAt(e.point).length) return this.toggleBuildings([this.buildingsAt(e.point)[0]]);
    const f = this.gridAt(e.point);
    if (!f) return;
    const id = f.id;
    if (this.tool === "merge") {
      this.setSelected(this.selected.includes(id) ? this.selected.filter((x) => x !== id) : [...this.selected, id]);
      this.renderPanel();
      return;
    }
    if (this.tool === "split") {
      this.setSelected([id]);
      await this.showInfo(f.properties);
      this.startLine("split", []);
      return;
    }
    if (this.tool === "reshape") {
      if (this.selected.length !== 1 || this.selected[0] === id) {
        this.setSelected([id]);
        this.say(t("needNeighbour"));
        return;
      }
      this.setSelected([this.selected[0], id]);
      const snap = await this.snapVertices(this.selected);
      this.startLine("reshape", snap);
      return;
    }
    if (this.tool === "move") {
      // (A building under the pointer was toggled above); anywhere else in a grid picks the target.
      if (!this.moveSel.size) return this.say(t("needBuildings"));
      this.setSelected([id]);
      this.moveTarget = { id, code: f.properties.code };
      this.message = null;
      this.renderPanel();
      return;
    }
    this.setSelected([id]);
    await this.showInfo(f.properties);
  }

  async snapVertices(ids) {
    const feats = await Promise.all(ids.map((id) => api(`/collections/grids/items/${id}${qs({ plan: this.plan.id })}`).catch(() => null)));
    const out = [];
    for (const f of feats) if (f) {
      const walk = (c) => (typeof c[0] === "number" ? out.push(c) : c.forEach(walk));
      walk(f.geometry.coordinates);
    }
    return out;
  }

  startLine(kind, snap) {
    this.pending = { kind };
    this.say(t("drawing"));
    this.draw.start(snap, () => this.applyLine());
    this.renderPanel();
  }

  /** Build the edit for the drawn line from the current selection and send it. */
  async applyLine() {
    const line = this.draw.line();
    if (!line || !this.pending) return;
    if (this.pending.kind === "split") {
      if (!this.selected.length) return this.say(t("needGrid"), "err");
      await this.edit("split", { grid_id: this.selected[0], line }, { keepLine: true });
    } else if (this.pending.kind === "reshape") {
      if (this.selected.length !== 2) return this.say(t("needNeighbour"), "err");
      await this.edit("reshape", { grid_id: this.selected[0], neighbour_id: this.selected[1], boundary: line }, { keepLine: true });
    }
  }

  async mergeSelected() {
    if (this.selected.length < 2) return;
    await this.edit("merge", { grid_ids: [...this.selected] });
  }

  async replan() {
    const community = $("ws-community").value;
    if (!community) return this.say(t("needCommunity"), "err");
    const name = this.ctx.hierarchy.flatMap((d) => d.streets).flatMap((s) => s.communities).find((c) => c.code === community)?.name || community;
    if (!(await this.ctx.confirm(`${name}：${t("replanConfirm")}`))) return;
    const body = { community_code: community };
    const lo = Number($("ws-min").value), hi = Number($("ws-max").value);
    if (lo) body.min_households = lo;
    if (hi) body.max_households = hi;
    await this.edit("replan", body);
  }

  /** Send one edit with the lock_version read; on 409 reload and keep what the planner drew. */
  async edit(kind, body, { keepLine = false } = {}) {
    if (!this.isDraft()) return this.say(t("needDraft"), "err");
    const path = ["undo", "redo"].includes(kind) ? `/plans/${this.plan.id}/${kind}` : `/plans/${this.plan.id}/edits/${kind}`;
    this.busy = true;
    this.renderPanel();
    try {
      const res = await api(path, { method: "POST", body: { ...body, lock_version: this.plan.lock_version } });
      this.plan.lock_version = res.lock_version;
      this.resetEditing();
      const changed = (res.changed || []).length, removed = (res.removed || []).length;
      const label = { split: "tool_split", merge: "tool_merge", reshape: "tool_reshape", "move-buildings": "tool_move", replan: "tool_replan", undo: "undo", redo: "redo" }[kind];
      const extra = [];
      if (res.carried_buildings?.length) extra.push(`${t("carried")} ${res.carried_buildings.length}`);
      if (res.replan) extra.push(`${t("gridsMade")} ${res.replan.grids}`);
      this.say(`${t("editDone")}（${t(label)}）：${t("changed")} ${changed}，${t("removed")} ${removed}${extra.map((x) => `，${x}`).join("")}`, "ok");
      if (this.tool === "move") this.loadBuildings();
      this.info = null;
      this.refreshGrids();
      await this.loadValidation();
      if (this.diff) await this.loadDiff();
    } catch (e) {
      if (e.status === 409 && e.body && "current_lock_version" in e.body) {
        const v = e.body.current_lock_version;
        const line = this.draw.line();
        await this.reloadPlan();
        if (keepLine && line) {
          this.draw.points = line.coordinates;
          this.draw._render();
          this.say(t("conflict", { v }), "err");
        } else this.say(`${t("conflictNoLine", { v })}${["merge", "move-buildings", "replan"].includes(kind) ? ` ${t("keptSelection")}` : ""}`, "err");
        this.message.detail = e.message;
      } else this.fail(e);
    } finally {
      this.busy = false;
      this.renderPanel();
    }
  }

  // --- validation, diff, publish ------------------------------------------------------------------------
  async loadValidation() {
    if (!this.isDraft()) { this.validation = null; return; }
    try {
      this.validation = await api(`/plans/${this.plan.id}/validation`);
    } catch (e) { this.validation = null; this.fail(e); }
    const v = this.validation || {};
    const feats = [...(v.gaps?.features || []), ...(v.overlaps?.features || [])];
    this.map.getSource("ws-validation").setData({ type: "FeatureCollection", features: feats });
    // Grids outside the size rule or their community have no problem geometry of their own: outline them.
    for (const id of this.problemIds || []) this.map.setFeatureState({ source: "ws-grids", sourceLayer: "grids", id }, { problem: false });
    this.problemIds = [...(v.out_of_bounds || []), ...(v.crossing || []), ...(v.invalid || [])].map((x) => x.grid_id ?? x.id).filter((x) => x != null);
    for (const id of this.problemIds) this.map.setFeatureState({ source: "ws-grids", sourceLayer: "grids", id }, { problem: true });
    this.renderPanel();
  }

  async loadDiff() {
    try {
      this.diff = await api(`/plans/${this.plan.id}/diff`);
      this.map.getSource("ws-diff").setData({ type: "FeatureCollection", features: this.diff.features || [] });
      this.renderLegend();
    } catch (e) { this.fail(e); }
    this.renderPanel();
  }

  toggleDiff() {
    if (this.diff) { this.diff = null; this.map.getSource("ws-diff").setData(EMPTY); this.renderPanel(); this.renderLegend(); } else this.loadDiff();
  }

  summaryNode(diff) {
    const box = document.createElement("div");
    box.id = "diff-summary";
    const ul = document.createElement("ul");
    ul.className = "plain";
    const s = diff?.summary || {};
    const codes = diff?.codes || {};
    const rows = [["added", s.added], ["changedGrids", s.changed], ["removedGrids", s.removed], ["unchanged", s.unchanged],
      ["codesKept", codes.kept?.length], ["codesNew", codes.new?.length], ["codesRetired", codes.retired?.length]];
    for (const [k, v] of rows) {
      if (v === undefined) continue;
      const li = document.createElement("li");
      li.dataset.key = k;
      li.append(Object.assign(document.createElement("span"), { textContent: t(k) }), Object.assign(document.createElement("b"), { textContent: fmt(v) }));
      ul.append(li);
    }
    box.append(ul);
    for (const k of ["new", "retired"]) {
      if (!codes[k]?.length) continue;
      const p = document.createElement("p");
      p.className = "help";
      p.textContent = `${t(k === "new" ? "codesNew" : "codesRetired")}：${codes[k].slice(0, 12).join("、")}${codes[k].length > 12 ? " …" : ""}`;
      box.append(p);
    }
    if (!diff) box.append(Object.assign(document.createElement("p"), { textContent: t("diffNone") }));
    return box;
  }

  async publish() {
    if (!this.isDraft()) return;
    let diff = null;
    try { diff = await api(`/plans/${this.plan.id}/diff`); } catch { /* publish still possible; summary then empty */ }
    const box = this.summaryNode(diff);
    const v = this.validation;
    if (v && !v.ok) box.prepend(Object.assign(document.createElement("p"), { className: "msg err", id: "publish-invalid", textContent: t("publishInvalid") }));
    // The version the planner reviewed: if anyone edits the draft meanwhile, the server refuses (409).
    const seen = this.plan.lock_version;
    if (!(await this.ctx.confirm(t("publishConfirm"), box))) return;
    try {
      const p = await api(`/plans/${this.plan.id}/publish`, { method: "POST", headers: { "If-Match": `"${seen}"` } });
      await this.loadPlans(p.id);
      await this.choosePlan(p.id);
      this.say(`${t("publishDone")}（${t("version")} ${p.version}）`, "ok");
    } catch (e) {
      if (e.status === 409 && e.body && "current" in e.body) {
        await this.reloadPlan();
        if (this.diff) await this.loadDiff();
        this.say(t("conflictPublish", { v: e.body.current }), "err");
      } else {
        if (e.status === 409) await this.reloadPlan();
        this.fail(e);
      }
    }
  }

  // --- info ---------------------------------------------------------------------------------------------
  async showInfo(p) {
    this.info = { ...p, staff: null, open: null };
    this.renderPanel();
    const [staff, inc] = await Promise.all([
      p.code ? api(`/staff${qs({ grid_code: p.code })}`).catch(() => null) : null,
      p.code ? api(`/incidents${qs({ grid_code: p.code, open: true, limit: 1 })}`).catch(() => null) : null,
    ]);
    if (this.info?.code !== p.code) return;
    // A grid new in this draft has no code yet, so no staff or incidents: say so rather than wait.
    this.info.staff = staff ? staff.length : "—";
    this.info.open = inc ? inc.total : "—";
    this.renderPanel();
  }

  // --- panel --------------------------------------------------------------------------------------------
  renderPanel() {
    const panel = $("ws-panel");
    if (!panel) return;
    const draft = this.isDraft();
    const h = this.ctx.hierarchy;
    const street = this.street || "", community = this.community || "";
    const streets = h.flatMap((d) => d.streets);
    const comms = streets.filter((s) => !street || s.code === street).flatMap((s) => s.communities);
    const opt = (v, label, sel) => `<option value="${v}"${sel ? " selected" : ""}>${label}</option>`;
    panel.innerHTML = `
      <h2>${t("district")} / ${t("street")} / ${t("community")}</h2>
      <label>${t("district")}<select id="ws-district">${h.map((d) => opt(d.code, d.name, true)).join("")}</select></label>
      <label>${t("street")}<select id="ws-street">${opt("", t("all"))}${streets.map((s) => opt(s.code, s.name, s.code === street)).join("")}</select></label>
      <label>${t("community")}<select id="ws-community">${opt("", t("all"))}${comms.map((c) => opt(c.code, c.name, c.code === community)).join("")}</select></label>
      <h2>${t("plan")}</h2>
      <label>${t("plan")}<select id="ws-plan">${this.plans.map((p) => opt(p.id, `${p.name}（${t(p.status)}${p.version ? ` v${p.version}` : ""}${p.status === "draft" && p.created_by ? ` · ${p.created_by}` : ""}）`, p.id === this.plan?.id)).join("")}</select></label>
      <div class="row"><button type="button" id="ws-new-draft">${t("newDraft")}</button>
        <button type="button" id="ws-rename" ${this.mayChangePlan() ? "" : "disabled"}>${t("rename")}</button>
        <button type="button" id="ws-delete" ${this.mayChangePlan() ? "" : "disabled"}>${t("deleteDraft")}</button>
        <span class="help" id="ws-lock">${this.plan ? `${t("lockVersion")} ${this.plan.lock_version}` : ""}</span></div>
      ${draft ? "" : `<p class="help">${t("editsDisabled")}</p>`}
      <h2>${t("tools")}</h2>
      <div class="row" id="ws-tools">${TOOLS.map((k) => `<button type="button" id="tool-${k}" data-tool="${k}" class="${this.tool === k ? "active" : ""}" ${!draft && k !== "select" ? "disabled" : ""}>${t(`tool_${k}`)}</button>`).join("")}</div>
      <p class="help">${t(this.tool === "move" ? "help_move2" : `help_${this.tool}`)}</p>
      ${this.tool === "merge" ? `<div class="row"><button type="button" id="ws-merge" class="primary" ${this.selected.length < 2 || this.busy ? "disabled" : ""}>${t("mergeSelected")} (${this.selected.length})</button></div>` : ""}
      ${["split", "reshape"].includes(this.tool) ? `<div class="row"><button type="button" id="ws-apply-line" class="primary" ${this.draw.line() && !this.draw.active && !this.busy ? "" : "disabled"}>${t("applyLine")}</button><button type="button" id="ws-clear-line">${t("clearLine")}</button></div>` : ""}
      ${this.tool === "move" ? this.movePanel() : ""}
      ${this.tool === "replan" ? `${community ? "" : `<p class="help warn">${t("needCommunity")}</p>`}<label>${t("minHh")}<input id="ws-min" type="number" min="1" placeholder="${t("planRule")}" value="${this.replanMin || ""}"></label><label>${t("maxHh")}<input id="ws-max" type="number" min="1" placeholder="${t("planRule")}" value="${this.replanMax || ""}"></label><div class="row"><button type="button" id="ws-replan" class="primary" ${community && draft && !this.busy ? "" : "disabled"}>${t("runReplan")}</button></div>` : ""}
      <div class="row">
        <button type="button" id="ws-undo" ${draft && !this.busy ? "" : "disabled"}>↶ ${t("undo")}</button>
        <button type="button" id="ws-redo" ${draft && !this.busy ? "" : "disabled"}>↷ ${t("redo")}</button>
        <button type="button" id="ws-diff" class="${this.diff ? "active" : ""}" ${draft ? "" : "disabled"}>${t("diff")}</button>
        <button type="button" id="ws-publish" class="primary" ${draft && !this.busy && this.isAdmin() ? "" : "disabled"}>${t("publish")}</button>
      </div>
      ${draft && !this.isAdmin() ? `<p class="help" id="ws-publish-note">${t("publishAdminOnly")}</p>` : ""}
      <div id="ws-message" hidden></div>
      ${draft ? `<h2>${t("validation")}</h2><ul class="plain" id="ws-validation">${this.validationList()}</ul>` : ""}
      ${this.diff ? `<h2>${t("diff")}</h2><div id="ws-diff-box"></div>` : ""}
      <h2>${t("gridInfo")}</h2>
      <div id="ws-info">${this.info ? `<dl class="info">
        <dt>${t("code")}</dt><dd id="info-code">${this.info.code || "—"}</dd>
        <dt>${t("households")}</dt><dd id="info-households">${fmt(this.info.households)}</dd>
        <dt>${t("buildings")}</dt><dd>${fmt(this.info.building_count)}</dd>
        <dt>${t("sizeStatus")}</dt><dd>${t(`size_${this.info.size_status}`)}</dd>
        <dt>${t("staff")}</dt><dd id="info-staff">${this.info.staff ?? "…"}</dd>
        <dt>${t("openIncidents")}</dt><dd id="info-open">${this.info.open ?? "…"}</dd></dl>` : `<p class="help">${t("noSelection")}</p>`}</div>`;
    this.renderMessage();
    this.bindValidation();
    if (this.diff) $("ws-diff-box").append(this.summaryNode(this.diff));
    $("ws-street").onchange = (e) => { this.street = e.target.value; this.community = ""; this.zoomTo(); this.renderPanel(); this.renderLegend(); };
    $("ws-community").onchange = (e) => { this.community = e.target.value; this.zoomTo(); this.renderPanel(); this.renderLegend(); };
    $("ws-plan").onchange = (e) => this.choosePlan(e.target.value);
    $("ws-new-draft").onclick = () => this.newDraft();
    $("ws-rename").onclick = () => this.renamePlan();
    $("ws-delete").onclick = () => this.deletePlan();
    panel.querySelectorAll("[data-tool]").forEach((b) => { b.onclick = () => this.setTool(b.dataset.tool); });
    if ($("ws-merge")) $("ws-merge").onclick = () => this.mergeSelected();
    if ($("ws-apply-line")) $("ws-apply-line").onclick = () => this.applyLine();
    if ($("ws-clear-line")) $("ws-clear-line").onclick = () => { this.draw.clear(); this.renderPanel(); };
    if ($("ws-move-apply")) $("ws-move-apply").onclick = () => this.moveBuildings();
    if ($("ws-move-clear")) $("ws-move-clear").onclick = () => { this.clearMove(); this.setSelected([]); this.renderPanel(); };
    if ($("ws-replan")) $("ws-replan").onclick = () => this.replan();
    if ($("ws-min")) $("ws-min").oninput = (e) => { this.replanMin = e.target.value; };
    if ($("ws-max")) $("ws-max").oninput = (e) => { this.replanMax = e.target.value; };
    $("ws-undo").onclick = () => this.edit("undo", {});
    $("ws-redo").onclick = () => this.edit("redo", {});
    $("ws-diff").onclick = () => this.toggleDiff();
    $("ws-publish").onclick = () => this.publish();
  }

  movePanel() {
    const ids = [...this.moveSel.keys()];
    const hh = [...this.moveSel.values()].reduce((a, b) => a + b, 0);
    return `<dl class="info" id="ws-move">
        <dt>${t("buildingsSelected")}</dt><dd id="move-count">${fmt(ids.length)} ${t("unitBuildings")}（${fmt(hh)} ${t("unitHouseholds")}）</dd>
        <dt>${t("targetGrid")}</dt><dd id="move-target">${this.moveTarget ? this.moveTarget.code || `#${this.moveTarget.id}` : "—"}</dd></dl>
      ${ids.length ? `<p class="help" id="move-ids">${ids.slice(0, 20).map((i) => this.buildings?.get(i)?.name || `#${i}`).join("、")}${ids.length > 20 ? " …" : ""}</p>` : ""}
      ${this.buildingsNote ? `<p class="help warn" id="move-note">${this.buildingsNote}</p>` : ""}
      <div class="row"><button type="button" id="ws-move-apply" class="primary" ${ids.length && this.moveTarget && !this.busy ? "" : "disabled"}>${t("moveApply")}</button>
        <button type="button" id="ws-move-clear" ${ids.length || this.moveTarget ? "" : "disabled"}>${t("clearSelection")}</button></div>`;
  }

  validationList() {
    const v = this.validation, sum = v?.summary;
    if (!sum) return `<li>${t("loading")}</li>`;
    const keys = ["gaps", "overlaps", "out_of_bounds", "crossing", "invalid", "unstaffed"].filter((k) => sum[k]);
    if (!keys.length) return `<li class="ok">${t("validationOk")}</li>`;
    const names = new Map(this.ctx.hierarchy.flatMap((d) => d.streets.flatMap((s) => s.communities)).map((c) => [c.code, c.name]));
    // Community names are data: marked so (the English check leaves data alone).
    const where = (c) => `<span class="data">${names.get(c) || c || ""}</span>`;
    // Each problem is a line to click: the map zooms to it (a grid is selected with its details).
    const item = (k, x, i) => {
      if (k === "gaps" || k === "overlaps") return `<li><button type="button" class="link" data-feature="${k}:${i}">${where(x.properties.community_code)} · ${fmt(x.properties.area_m2)} m²</button></li>`;
      const what = k === "out_of_bounds" ? `${fmt(x.households)} ${t("households")}（${t(x.status === "too small" ? "size_under" : "size_over")}）`
        : k === "crossing" ? `${fmt(x.outside_area_m2)} m² ${t("outsideCommunity")}` : k === "unstaffed" ? t("noLeaderOrFulltime") : x.reason;
      return `<li><button type="button" class="link" data-grid="${x.grid_id}">${x.code || `#${x.grid_id}`}</button> <span class="help">${where(x.community_code)} · ${what}</span></li>`;
    };
    const list = (k) => (k === "gaps" || k === "overlaps" ? v[k].features : v[k]) || [];
    return keys.map((k) => `<li data-key="${k}"><details id="val-${k}"${this.openProblems?.has(k) ? " open" : ""}><summary><span>${t(k)}</span><b>${fmt(sum[k])}</b></summary>
      <ul class="plain problems">${list(k).slice(0, 100).map((x, i) => item(k, x, i)).join("")}${list(k).length > 100 ? `<li class="help">… ${fmt(list(k).length - 100)}</li>` : ""}</ul></details></li>`).join("")
      + this.balanceTable(names);
  }

  /** Per community: basic grids, households, the largest deviation from the target (%) and the SD. */
  balanceTable(names) {
    const rows = (this.validation?.communities || []).filter((c) => c.basic_grids && (!this.community || c.community_code === this.community))
      .sort((a, b) => (b.max_deviation_pct ?? 0) - (a.max_deviation_pct ?? 0)).slice(0, 15);
    if (!rows.length) return "";
    return `<li><details id="val-balance"${this.openProblems?.has("balance") ? " open" : ""}><summary><span>${t("balance")}</span></summary>
      <table class="balance"><thead><tr><th>${t("community")}</th><th>${t("grids")}</th><th>${t("meanHh")}</th><th>${t("maxDev")}</th><th>SD</th></tr></thead><tbody>
      ${rows.map((c) => `<tr><td class="data">${names.get(c.community_code) || c.community_code}</td><td>${c.basic_grids}</td><td>${fmt(Math.round(c.mean_households))}</td><td>${c.max_deviation_pct}%</td><td>${fmt(Math.round(c.sd_households))}</td></tr>`).join("")}
      </tbody></table></details></li>`;
  }

  /** Zoom to grid ``id`` of the plan shown, select it and show its details. */
  async zoomToGrid(id) {
    try {
      const f = await api(`/collections/grids/items/${id}${qs({ plan: this.plan.id })}`);
      const [w, s, e, n] = bbox(f.geometry);
      this.map.fitBounds([[w, s], [e, n]], { padding: 80, maxZoom: 17, duration: 0 });
      this.setSelected([Number(id)]);
      await this.showInfo(f.properties);
    } catch (e) { this.fail(e); }
  }

  bindValidation() {
    const box = $("ws-validation");
    if (!box) return;
    box.querySelectorAll("details").forEach((d) => d.addEventListener("toggle", () => {
      this.openProblems = this.openProblems || new Set();
      const k = d.id.replace("val-", "");
      if (d.open) this.openProblems.add(k); else this.openProblems.delete(k);
    }));
    box.querySelectorAll("[data-grid]").forEach((b) => { b.onclick = () => this.zoomToGrid(b.dataset.grid); });
    box.querySelectorAll("[data-feature]").forEach((b) => {
      b.onclick = () => {
        const [k, i] = b.dataset.feature.split(":");
        const [w, s, e, n] = bbox(this.validation[k].features[Number(i)].geometry);
        this.map.fitBounds([[w, s], [e, n]], { padding: 80, maxZoom: 18, duration: 0 });
      };
    });
  }

  zoomTo() {
    const code = this.community || this.street;
    const feats = this.ctx.communities.features.filter((f) => code && f.properties.code.startsWith(code));
    this.map.getSource("ws-place").setData({ type: "FeatureCollection", features: feats });  // the chosen place, outlined
    if (!feats.length) return this.ctx.fitAll();
    const bs = feats.map((f) => bbox(f.geometry));
    this.map.fitBounds([[Math.min(...bs.map((b) => b[0])), Math.min(...bs.map((b) => b[1]))], [Math.max(...bs.map((b) => b[2])), Math.max(...bs.map((b) => b[3]))]], { padding: 30, duration: 0 });
  }
}
