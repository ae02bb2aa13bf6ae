// The search box: a grid by code, a community or street by name or code, a building by id or name
// (GET /api/v1/search); a hit zooms the map to it and outlines it for a moment.
import { api, qs } from "./api.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const EMPTY = { type: "FeatureCollection", features: [] };

export class Search {
  constructor(ctx) {
    this.ctx = ctx;
    this.hits = [];
    this.seq = 0;
  }

  init() {
    const box = $("search");
    let timer = null;
    box.oninput = () => { clearTimeout(timer); timer = setTimeout(() => this.find(box.value), 250); };
    box.onkeydown = (e) => {
      if (e.key === "Enter" && this.hits.length) { e.preventDefault(); this.go(this.hits[0]); }
      if (e.key === "Escape") this.close();
    };
    document.addEventListener("click", (e) => { if (!e.target.closest("#search-box")) this.close(); });
    const map = this.ctx.map;
    map.addSource("search-hit", { type: "geojson", data: EMPTY });
    map.addLayer({ id: "search-hit", type: "line", source: "search-hit", paint: { "line-color": "#ff7a00", "line-width": 3, "line-dasharray": [2, 1] } });
  }

  /** The plan whose grids are searched: the one the workspace shows, else the published one. */
  plan() { return this.ctx.view === "workspace" ? this.ctx.workspacePlan?.() : undefined; }

  async find(q) {
    const seq = ++this.seq;
    if (!q.trim()) return this.close();
    try {
      const hits = await api(`/search${qs({ q: q.trim(), plan: this.plan(), limit: 8 })}`);
      if (seq !== this.seq) return;
      this.hits = hits;
      this.render();
    } catch (e) { this.ctx.toast(`${t("error")}: ${e.message}`, "err"); }
  }

  render() {
    const list = $("search-results");
    list.replaceChildren(...(this.hits.length ? this.hits.map((h, i) => {
      const li = document.createElement("li");
      li.id = `search-hit-${i}`;
      li.tabIndex = 0;
      li.innerHTML = `<span class="kind">${t(`kind_${h.kind}`)}</span> <b></b> <span class="help"></span>`;
      li.querySelector("b").textContent = h.kind === "grid" || h.kind === "building" ? h.name : `${h.name} ${h.code}`;
      li.querySelector(".help").textContent = h.detail || "";
      li.onclick = () => this.go(h);
      li.onkeydown = (e) => { if (e.key === "Enter") this.go(h); };
      return li;
    }) : [Object.assign(document.createElement("li"), { className: "help", id: "search-none", textContent: t("searchNone") })]));
    list.hidden = false;
  }

  go(hit) {
    const [w, s, e, n] = hit.bbox;
    const map = this.ctx.map;
    map.fitBounds([[w, s], [e, n]], { padding: 60, maxZoom: hit.kind === "building" ? 18 : 17, duration: 0 });
    const ring = [[w, s], [e, s], [e, n], [w, n], [w, s]];
    map.getSource("search-hit").setData({ type: "Feature", properties: { kind: hit.kind, code: hit.code }, geometry: { type: "Polygon", coordinates: [ring] } });
    this.last = hit;
    this.close();
    if (hit.kind === "grid" && this.ctx.view === "workspace") this.ctx.selectGridByCode?.(hit.code);
  }

  close() { $("search-results").hidden = true; }
}
