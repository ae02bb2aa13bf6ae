import * as maplibregl from "./node_modules/maplibre-gl/dist/maplibre-gl.mjs";
import { t, setLang, currentLang } from "./i18n.js";

const API = "api/v1";
let communities = { type: "FeatureCollection", features: [] };

// Blank base map by default: closed government networks have no tile servers we may assume.
const map = new maplibregl.Map({
  container: "map",
  style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#eef2f5" } }] },
  center: [120.1, 30.27],
  zoom: 12,
  attributionControl: false,
});
map.addControl(new maplibregl.NavigationControl(), "top-right");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }));

function fmt(n) { return Number(n || 0).toLocaleString(currentLang() === "zh" ? "zh-CN" : "en-US"); }

function renderSidebar() {
  const feats = communities.features;
  const hh = feats.reduce((s, f) => s + (f.properties.households || 0), 0);
  const bl = feats.reduce((s, f) => s + (f.properties.buildings || 0), 0);
  document.getElementById("figures").innerHTML =
    `<dt>${t("nCommunities")}</dt><dd>${fmt(feats.length)}</dd>` +
    `<dt>${t("nBuildings")}</dt><dd>${fmt(bl)}</dd>` +
    `<dt>${t("nHouseholds")}</dt><dd>${fmt(hh)}</dd>`;
  const list = document.getElementById("community-list");
  list.replaceChildren(...feats.map((f) => {
    const li = document.createElement("li");
    li.innerHTML = `<span>${f.properties.name}</span><span>${fmt(f.properties.households)} ${t("households")}</span>`;
    li.title = f.properties.code;
    li.onclick = () => zoomTo(f);
    return li;
  }));
}

function bbox(geom) {
  let b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => (typeof c[0] === "number" ? (b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])]) : c.forEach(walk));
  walk(geom.coordinates);
  return b;
}
function zoomTo(f) { const b = bbox(f.geometry); map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40 }); }

async function loadCommunities() {
  const res = await fetch(`${API}/communities`);
  if (!res.ok) return;
  communities = await res.json();
  map.getSource("communities").setData(communities);
  if (communities.features.length) {
    const all = communities.features.map((f) => bbox(f.geometry));
    map.fitBounds([[Math.min(...all.map((b) => b[0])), Math.min(...all.map((b) => b[1]))], [Math.max(...all.map((b) => b[2])), Math.max(...all.map((b) => b[3]))]], { padding: 30, duration: 0 });
  }
  renderSidebar();
}

// Grids of the published plan, coloured by whether households lie within the size rule (300–500 by default).
async function loadGrids() {
  const res = await fetch(`${API}/plans`);
  if (!res.ok) return;
  const published = (await res.json()).find((p) => p.status === "published");
  if (!published) return;
  const fc = await (await fetch(`${API}/plans/${published.id}/grids`)).json();
  map.getSource("grids").setData(fc);
  document.getElementById("figures").insertAdjacentHTML("beforeend", `<dt>${t("nGrids")}</dt><dd>${fmt(fc.features.length)}</dd>`);
}

async function checkHealth() {
  const el = document.getElementById("health");
  try {
    const res = await fetch(`${API}/health`);
    el.dataset.i18n = res.ok ? "healthy" : "unhealthy";
    el.className = "pill " + (res.ok ? "ok" : "bad");
  } catch { el.dataset.i18n = "unhealthy"; el.className = "pill bad"; }
  el.textContent = t(el.dataset.i18n);
}

map.on("load", () => {
  map.addSource("communities", { type: "geojson", data: communities });
  map.addLayer({ id: "communities-fill", type: "fill", source: "communities", paint: { "fill-color": ["match", ["get", "class"], "rural", "#c8e6c9", "#bbdefb"], "fill-opacity": 0.6 } });
  map.addSource("grids", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: "grids-fill", type: "fill", source: "grids",
    paint: {
      "fill-color": ["case", ["==", ["get", "type"], "dedicated"], "#b39ddb",
        ["<", ["to-number", ["get", "households"]], 300], "#ffe082", [">", ["to-number", ["get", "households"]], 500], "#ef9a9a", "#a5d6a7"],
      "fill-opacity": 0.55,
    },
  });
  map.addLayer({ id: "grids-line", type: "line", source: "grids", paint: { "line-color": "#455a64", "line-width": 0.6 } });
  map.addLayer({ id: "communities-outline", type: "line", source: "communities", paint: { "line-color": "#0f4c81", "line-width": 2 } });
  map.on("click", "grids-fill", (e) => {
    const p = e.features[0].properties;
    new maplibregl.Popup().setLngLat(e.lngLat)
      .setHTML(`<b>${p.code || t("noCode")}</b><br>${fmt(p.households)} ${t("households")} · ${fmt(p.buildings)} ${t("buildingsUnit")}<br>${t(p.type)}`)
      .addTo(map);
  });
  map.on("click", "communities-fill", (e) => {
    if (map.queryRenderedFeatures(e.point, { layers: ["grids-fill"] }).length) return;
    const p = e.features[0].properties;
    new maplibregl.Popup().setLngLat(e.lngLat).setHTML(`<b>${p.name}</b><br>${p.code}<br>${fmt(p.households)} ${t("households")} · ${t(p.class)}`).addTo(map);
  });
  loadCommunities().then(loadGrids);
});

document.getElementById("lang").onclick = () => {
  setLang(currentLang() === "zh" ? "en" : "zh");
  document.getElementById("lang").textContent = t("switchTo");
  renderSidebar();
};
setLang(currentLang());
document.getElementById("lang").textContent = t("switchTo");
checkHealth();
