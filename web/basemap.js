// The base map: blank by default (closed government networks have no tile server we may assume); an XYZ or
// WMTS (KVP with {z}/{x}/{y}) template such as 天地图 can be set in the settings panel and is kept in localStorage.
const KEY = "gridplanner.basemap";

export const TIANDITU = {
  url: "https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
  labels: "https://t0.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
};

export function loadBasemap() {
  try { return JSON.parse(localStorage.getItem(KEY)) || { url: "", labels: "", key: "" }; } catch { return { url: "", labels: "", key: "" }; }
}
export function saveBasemap(cfg) { localStorage.setItem(KEY, JSON.stringify(cfg)); }

function expand(template, key) { return template.replaceAll("{key}", encodeURIComponent(key || "")).replaceAll("{tk}", encodeURIComponent(key || "")); }

/** A MapLibre style: background, then the configured raster base map (if any); app layers go on top. */
export function baseStyle(cfg = loadBasemap()) {
  const style = { version: 8, sources: {}, layers: [{ id: "background", type: "background", paint: { "background-color": "#f3f5f7" } }] };
  for (const [id, url] of [["basemap", cfg.url], ["basemap-labels", cfg.labels]]) {
    if (!url) continue;
    style.sources[id] = { type: "raster", tiles: [expand(url, cfg.key)], tileSize: 256, maxzoom: 18 };
    style.layers.push({ id, type: "raster", source: id });
  }
  return style;
}

/** Swap the base map of a live map without touching the app's own layers. */
export function applyBasemap(map, cfg) {
  for (const id of ["basemap-labels", "basemap"]) {
    if (map.getLayer(id)) map.removeLayer(id);
    if (map.getSource(id)) map.removeSource(id);
  }
  const style = baseStyle(cfg);
  const firstApp = map.getStyle().layers.find((l) => l.id !== "background")?.id;
  for (const id of ["basemap", "basemap-labels"]) {
    if (!style.sources[id]) continue;
    map.addSource(id, style.sources[id]);
    map.addLayer(style.layers.find((l) => l.id === id), firstApp);
  }
}
