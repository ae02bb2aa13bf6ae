// A small line-drawing interaction: click to add points, double-click to finish. Points within a few pixels of a
// snap vertex (the selected grids' vertices) snap to it, so a reshaped boundary starts and ends on the old one.
const SNAP_PX = 12;

export class LineDraw {
  constructor(map, sourceId) {
    this.map = map;
    this.sourceId = sourceId;
    this.points = [];
    this.snap = [];
    this.active = false;
    this.onFinish = null;
    this._click = (e) => this._add(e);
    this._dbl = (e) => { e.preventDefault(); this._finish(); };
  }

  start(snapVertices = [], onFinish = null) {
    this.stop();
    this.points = [];
    this.snap = snapVertices;
    this.onFinish = onFinish;
    this.active = true;
    this.map.doubleClickZoom.disable();
    this.map.getCanvas().style.cursor = "crosshair";
    this.map.on("click", this._click);
    this.map.on("dblclick", this._dbl);
    this._render();
  }

  stop() {
    if (!this.active) return;
    this.active = false;
    this.map.off("click", this._click);
    this.map.off("dblclick", this._dbl);
    this.map.getCanvas().style.cursor = "";
    setTimeout(() => this.map.doubleClickZoom.enable(), 0);
  }

  clear() { this.stop(); this.points = []; this._render(); }

  line() { return this.points.length >= 2 ? { type: "LineString", coordinates: this.points.map((p) => [...p]) } : null; }

  _snapped(lngLat) {
    const here = this.map.project(lngLat);
    let best = null, bestD = SNAP_PX;
    for (const v of this.snap) {
      const p = this.map.project(v);
      const d = Math.hypot(p.x - here.x, p.y - here.y);
      if (d <= bestD) { best = v; bestD = d; }
    }
    return best ? [best[0], best[1]] : [lngLat.lng, lngLat.lat];
  }

  _add(e) {
    const pt = this._snapped(e.lngLat);
    const last = this.points[this.points.length - 1];
    // The two clicks of a double-click land on the same pixel: keep one point.
    if (last) {
      const a = this.map.project(last), b = this.map.project(pt);
      if (Math.hypot(a.x - b.x, a.y - b.y) < 3) return;
    }
    this.points.push(pt);
    this._render();
  }

  _finish() {
    this.stop();
    this._render();
    if (this.points.length >= 2 && this.onFinish) this.onFinish(this.line());
  }

  _render() {
    const feats = this.points.map((p) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: p } }));
    if (this.points.length >= 2) feats.push({ type: "Feature", properties: {}, geometry: this.line() });
    this.map.getSource(this.sourceId)?.setData({ type: "FeatureCollection", features: feats });
  }
}

/** Every vertex of a GeoJSON (multi)polygon. */
export function vertices(geom) {
  const out = [];
  const walk = (c) => (typeof c[0] === "number" ? out.push(c) : c.forEach(walk));
  walk(geom.coordinates);
  return out;
}

export function bbox(geom) {
  let b = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of vertices(geom)) b = [Math.min(b[0], x), Math.min(b[1], y), Math.max(b[2], x), Math.max(b[3], y)];
  return b;
}

/** Shift-drag a box on the map (instead of MapLibre's box zoom) and hand its two corners, in map pixels, to
 * `onBox`; the box is drawn as a plain element over the canvas while dragging. */
export class BoxSelect {
  constructor(map, onBox) {
    this.map = map;
    this.onBox = onBox;
    this.on = false;
    this.start = null;
    this.el = null;
    const canvas = map.getCanvasContainer();
    const pos = (e) => { const r = canvas.getBoundingClientRect(); return { x: e.clientX - r.left, y: e.clientY - r.top }; };
    canvas.addEventListener("mousedown", (e) => {
      if (!this.on || !e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      e.stopPropagation();
      map.dragPan.disable();
      this.start = pos(e);
      this.el = Object.assign(document.createElement("div"), { className: "boxselect", id: "box-select" });
      canvas.append(this.el);
      const move = (ev) => {
        const p = pos(ev);
        Object.assign(this.el.style, { left: `${Math.min(p.x, this.start.x)}px`, top: `${Math.min(p.y, this.start.y)}px`, width: `${Math.abs(p.x - this.start.x)}px`, height: `${Math.abs(p.y - this.start.y)}px` });
      };
      const up = (ev) => {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
        this.el.remove();
        map.dragPan.enable();
        const end = pos(ev);
        if (Math.hypot(end.x - this.start.x, end.y - this.start.y) > 4) this.onBox(this.start, end);
        this.start = null;
      };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    }, true);
  }

  /** While on, shift-drag selects instead of zooming. */
  enable(on) {
    this.on = on;
    if (on) this.map.boxZoom.disable(); else this.map.boxZoom.enable();
  }
}
