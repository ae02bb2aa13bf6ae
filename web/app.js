// The shell: log-in, navigation between the planner workspace and the dashboard, settings, one shared map.
import * as maplibregl from "./node_modules/maplibre-gl/dist/maplibre-gl.mjs";
import { api, setUnauthorisedHandler } from "./api.js";
import { baseStyle, loadBasemap, saveBasemap, applyBasemap, TIANDITU } from "./basemap.js";
import { t, setLang, currentLang, onLangChange, applyStatic } from "./i18n.js";
import { Workspace } from "./workspace.js";
import { Dashboard } from "./dashboard.js";
import { Search } from "./search.js";

const $ = (id) => document.getElementById(id);
const ctx = { user: null, authEnabled: true, communities: { type: "FeatureCollection", features: [] }, hierarchy: [] };
let map = null, workspace = null, dashboard = null, search = null, view = null;

export function toast(text, kind = "info", ms = 4000) {
  const el = $("toast");
  el.className = `msg ${kind}`;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  if (ms) toast.timer = setTimeout(() => { el.hidden = true; }, ms);
}
ctx.toast = toast;

export function confirmDialog(text, bodyNode) {
  const dlg = $("confirm-dialog");
  $("confirm-text").textContent = text;
  $("confirm-body").replaceChildren(...(bodyNode ? [bodyNode] : []));
  return new Promise((resolve) => {
    dlg.onclose = () => resolve(dlg.returnValue === "ok");
    dlg.returnValue = "";
    dlg.showModal();
  });
}
ctx.confirm = confirmDialog;

function showLogin() {
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  $("login-user").focus();
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    ctx.user = await api("/auth/login", { method: "POST", body: { username: $("login-user").value, password: $("login-pass").value }, quiet401: true });
    $("login-pass").value = "";
    await showApp();
  } catch (e) {
    $("login-error").textContent = e.status === 401 ? t("loginFailed") : `${t("error")}: ${e.message}`;
  }
}

async function logout() {
  try { await api("/auth/logout", { method: "POST", quiet401: true }); } catch { /* already logged out */ }
  ctx.user = null;
  showLogin();
}

function renderWho() {
  const u = ctx.user;
  $("who").textContent = u ? `${u.username} · ${t(`role_${u.role}`)}` : "";
  $("logout").hidden = !ctx.authEnabled;
}

function canEdit() { return !ctx.authEnabled || (ctx.user && ["admin", "planner"].includes(ctx.user.role)); }
ctx.canEdit = canEdit;

function switchView(next) {
  if (next === "workspace" && !canEdit()) next = "dashboard";
  view = next;
  ctx.view = next;
  document.querySelectorAll("nav .tab").forEach((b) => b.classList.toggle("active", b.dataset.view === next));
  $("nav-workspace").hidden = !canEdit();
  if (next === "workspace") { dashboard.hide(); workspace.show(); } else { workspace.hide(); dashboard.show(); }
  location.hash = next;
}

async function ensureMap() {
  if (map) return;
  map = new maplibregl.Map({ container: "map", style: baseStyle(), center: [120.1, 30.27], zoom: 12, attributionControl: false, maxPitch: 0 });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }));
  await new Promise((resolve) => map.once("load", resolve));
  const [hierarchy, communities] = await Promise.all([api("/districts"), api("/communities")]);
  ctx.hierarchy = hierarchy;
  ctx.communities = communities;
  ctx.map = map;
  ctx.maplibregl = maplibregl;
  // Community boundaries under everything the views draw: the "blank with boundaries" default.
  map.addSource("communities", { type: "geojson", data: communities });
  map.addLayer({ id: "communities-fill", type: "fill", source: "communities", paint: { "fill-color": "#ffffff", "fill-opacity": 0.5 } });
  map.addLayer({ id: "communities-line", type: "line", source: "communities", paint: { "line-color": "#0f4c81", "line-width": 2 } });
  // The ground grids are drawn on, above the community fill and under every view's layers: rivers and roads
  // (z10+) and buildings (z14+), as vector tiles of the store, so planners see what a boundary would cut.
  const tiles = (layer) => ({ type: "vector", url: `${location.origin}/api/v1/tiles/${layer}.json` });
  map.addSource("ground-lines", tiles("lines"));
  map.addSource("ground-buildings", tiles("buildings"));
  const lines = { source: "ground-lines", "source-layer": "lines" };
  const bld = { source: "ground-buildings", "source-layer": "buildings", minzoom: 14 };
  map.addLayer({ id: "ground-rivers", type: "line", ...lines, filter: ["==", ["get", "kind"], "river"], paint: { "line-color": "#74a9cf", "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1, 16, 5] } }, "communities-line");
  map.addLayer({ id: "ground-roads", type: "line", ...lines, filter: ["!=", ["get", "kind"], "river"], paint: { "line-color": "#a7afb8", "line-width": ["interpolate", ["linear"], ["zoom"], 10, 0.5, 16, 4] } }, "communities-line");
  map.addLayer({ id: "ground-buildings", type: "fill", ...bld, filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#d8c8ad", "fill-opacity": 0.8, "fill-outline-color": "#9c8a6e" } }, "communities-line");
  map.addLayer({ id: "ground-building-points", type: "circle", ...bld, filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 3, "circle-color": "#9c8a6e" } }, "communities-line");
  fitAll();
  workspace = new Workspace(ctx);
  dashboard = new Dashboard(ctx);
  search = new Search(ctx);
  ctx.workspacePlan = () => workspace.plan?.id;
  ctx.selectGridByCode = (code) => workspace.selectByCode(code);
  await Promise.all([workspace.init(), dashboard.init()]);
  search.init();
  window.gp = { map, ctx, workspace, dashboard, search };  // a handle for the browser tests and the console
}

export function fitAll() {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => { if (typeof c[0] === "number") { b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); } else c.forEach(walk); };
  ctx.communities.features.forEach((f) => walk(f.geometry.coordinates));
  if (Number.isFinite(b[0])) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, duration: 0 });
}
ctx.fitAll = fitAll;

async function showApp() {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  renderWho();
  await ensureMap();
  map.resize();
  const wanted = location.hash.replace("#", "") || (canEdit() ? "workspace" : "dashboard");
  switchView(wanted === "dashboard" ? "dashboard" : wanted);
  document.body.dataset.ready = "1";
}

function openSettings() {
  const cfg = loadBasemap();
  $("bm-blank").checked = !cfg.url;
  $("bm-tiles").checked = !!cfg.url;
  $("bm-url").value = cfg.url || "";
  $("bm-labels").value = cfg.labels || "";
  $("bm-key").value = cfg.key || "";
  $("settings-dialog").showModal();
}

function saveSettings() {
  const tiles = $("bm-tiles").checked && $("bm-url").value.trim();
  const cfg = tiles ? { url: $("bm-url").value.trim(), labels: $("bm-labels").value.trim(), key: $("bm-key").value.trim() } : { url: "", labels: "", key: "" };
  saveBasemap(cfg);
  if (map) applyBasemap(map, cfg);
}

async function boot() {
  setLang(currentLang());
  applyStatic();
  document.querySelectorAll("button.lang").forEach((b) => { b.onclick = () => setLang(currentLang() === "zh" ? "en" : "zh"); });
  onLangChange(renderWho);
  $("login-form").onsubmit = login;
  $("logout").onclick = logout;
  $("open-settings").onclick = openSettings;
  $("bm-tianditu").onclick = () => { $("bm-tiles").checked = true; $("bm-url").value = TIANDITU.url; $("bm-labels").value = TIANDITU.labels; };
  $("settings-dialog").addEventListener("close", () => { if ($("settings-dialog").returnValue === "save") saveSettings(); });
  document.querySelectorAll("nav .tab").forEach((b) => { b.onclick = () => switchView(b.dataset.view); });
  setUnauthorisedHandler(() => { if (ctx.authEnabled) showLogin(); });
  try {
    ctx.user = await api("/auth/me", { quiet401: true });
  } catch (e) {
    if (e.status === 404) ctx.authEnabled = false;  // a server without accounts: open access
    else return showLogin();
  }
  await showApp();
}

boot();
