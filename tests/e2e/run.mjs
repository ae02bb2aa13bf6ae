// End-to-end tests of the web app in headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core.
// Usage: BASE=http://127.0.0.1:PORT ARTIFACTS=test-artifacts/e2e PASSWORD=... node tests/e2e/run.mjs [step ...]
// Each step prints "ok <step>" or "FAIL <step>: why" (or "skip <step>: why"); the exit code is 1 if any failed.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../web/package.json"));
const { chromium } = require("playwright-core");

const BASE = process.env.BASE || "http://127.0.0.1:8091";
const ARTIFACTS = process.env.ARTIFACTS || path.join(here, "../../test-artifacts/e2e");
const PASSWORD = process.env.PASSWORD || "gridplanner-e2e";
const ARGS = ["--no-sandbox", "--headless", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu-sandbox",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
mkdirSync(ARTIFACTS, { recursive: true });

const results = [];
function assert(cond, msg) { if (!cond) throw new Error(msg); }
class Skip extends Error {}

async function shot(page, name) { await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) }); }

async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "zh-CN" });
  // Nothing may load from outside the server: the app must work with no internet.
  await context.route((url) => !url.href.startsWith(BASE), (route) => { results.push(`FAIL offline: request outside the server: ${route.request().url()}`); route.abort(); });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log(`pageerror: ${e.message}`));
  // Refusals are part of the story a failing run tells: print the request and the answer.
  page.on("response", async (r) => {
    if (r.status() < 400 || r.status() === 401 || !r.url().includes("/api/v1/")) return;
    console.log(`  ${r.request().method()} ${r.url().replace(BASE, "")} ${r.request().postData() || ""} -> ${r.status()} ${(await r.text().catch(() => "")).slice(0, 300)}`);
  });
  return { context, page };
}

async function login(page, username, password = PASSWORD) {
  await page.goto(`${BASE}/`);
  await page.waitForSelector("#login-view:not([hidden]), body[data-ready='1']");
  if (await page.isVisible("#login-view")) {
    await page.fill("#login-user", username);
    await page.fill("#login-pass", password);
    await page.click("#login-submit");
  }
  await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
}

/** Wait until the map has drawn what it has loaded. */
async function mapIdle(page) {
  await page.waitForFunction(() => window.gp && window.gp.map.loaded() && window.gp.map.areTilesLoaded(), null, { timeout: 30000 });
  await page.waitForTimeout(300);
}

/** The page has the API at hand (same cookie): call it like the app does. */
async function apiCall(page, p, method = "GET", body) {
  return page.evaluate(async ([p, method, body]) => {
    const res = await fetch(`api/v1${p}`, { method, headers: body ? { "Content-Type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, [p, method, body]);
}

async function editingAvailable() {
  const spec = await (await fetch(`${BASE}/openapi.json`)).json();
  return Object.keys(spec.paths).some((p) => p.endsWith("/edits/split"));
}

// --- geometry helpers run in the page --------------------------------------------------------------------
/** Fit the map to grids, then return a viewport pixel inside each grid (found by querying rendered features). */
async function focusGrids(page, ids, planId) {
  return page.evaluate(async ([ids, planId]) => {
    const { map } = window.gp;
    const feats = await Promise.all(ids.map((id) => fetch(`api/v1/collections/grids/items/${id}?plan=${planId}`).then((r) => r.json())));
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    const walk = (c) => { if (typeof c[0] === "number") { b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); } else c.forEach(walk); };
    feats.forEach((f) => walk(f.geometry.coordinates));
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 120, duration: 0 });
    await new Promise((r) => { map.once("idle", r); map.triggerRepaint(); });
    const rect = map.getCanvas().getBoundingClientRect();
    const out = {};
    const inside = (geom, [x, y]) => {
      let c = false;
      const rings = geom.type === "Polygon" ? geom.coordinates : geom.coordinates.flat();
      for (const r of rings) for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
        if ((r[i][1] > y) !== (r[j][1] > y) && x < ((r[j][0] - r[i][0]) * (y - r[i][1])) / (r[j][1] - r[i][1]) + r[i][0]) c = !c;
      }
      return c;
    };
    const lnglat = (x, y) => { const l = map.unproject([x, y]); return [l.lng, l.lat]; };
    for (const [k, id] of ids.entries()) {
      const geom = feats[k].geometry;
      // The pixel of the grid farthest from its outline among a sample: clicks well inside it.
      let best = null;
      for (let x = 5; x < rect.width; x += 8) for (let y = 5; y < rect.height; y += 8) {
        if (!inside(geom, lnglat(x, y))) continue;
        const f = map.queryRenderedFeatures([x, y], { layers: ["ws-grids-fill"] })[0];
        if (!f || f.id !== id) continue;
        let d = 0;
        for (const [dx, dy] of [[14, 0], [-14, 0], [0, 14], [0, -14], [10, 10], [-10, -10], [10, -10], [-10, 10], [24, 0], [-24, 0], [0, 24], [0, -24]]) {
          if (inside(geom, lnglat(x + dx, y + dy))) d++;
        }
        if (!best || d > best.d) best = { x: rect.left + x, y: rect.top + y, d };
      }
      if (!best) throw new Error(`grid ${id} of plan ${planId} not drawn; drawn: ${[...new Set(map.queryRenderedFeatures({ layers: ["ws-grids-fill"] }).map((f) => f.id))].slice(0, 20)}; source ${map.getSource("ws-grids")?.url}`);
      out[id] = best;
    }
    return { pixels: out, features: feats };
  }, [ids, planId]);
}

/** The first of the candidate grids (most wanted first) the map draws where it lies. */
async function firstDrawn(page, candidates) {
  const errors = [];
  for (const target of candidates.slice(0, 6)) {
    try { return { target, ...(await focusGrids(page, [target.id], state.planId)) }; } catch (e) { errors.push(e.message.split("\n")[0]); }
  }
  throw new Error(`none of the candidate grids is drawn where it lies: ${errors.join("; ")}`);
}

async function toScreen(page, lnglats) {
  return page.evaluate((pts) => {
    const { map } = window.gp;
    const rect = map.getCanvas().getBoundingClientRect();
    return pts.map((p) => { const q = map.project(p); return { x: rect.left + q.x, y: rect.top + q.y }; });
  }, lnglats);
}

async function drawLine(page, pixels) {
  for (const p of pixels.slice(0, -1)) { await page.mouse.click(p.x, p.y); await page.waitForTimeout(120); }
  const last = pixels[pixels.length - 1];
  await page.mouse.dblclick(last.x, last.y);
}

/** A line through `at` across the polygon feature along x (vertical) or y: from just beyond the boundary
 * crossing below/left of `at` to just beyond the one above/right of it. */
function crossingLine(feature, at, vertical) {
  const rings = feature.geometry.type === "Polygon" ? feature.geometry.coordinates : feature.geometry.coordinates.flat();
  const [u, v] = vertical ? [0, 1] : [1, 0];  // u: the fixed coordinate, v: the one the line runs along
  const hits = [];
  for (const ring of rings) for (let i = 0; i + 1 < ring.length; i++) {
    const p = ring[i], q = ring[i + 1];
    if ((p[u] - at[u]) * (q[u] - at[u]) > 0 || p[u] === q[u]) continue;
    hits.push(p[v] + ((at[u] - p[u]) / (q[u] - p[u])) * (q[v] - p[v]));
  }
  const lo = Math.max(...hits.filter((h) => h < at[v])), hi = Math.min(...hits.filter((h) => h > at[v]));
  const pad = 0.15 * (hi - lo);
  const pt = (val) => (vertical ? [at[0], val] : [val, at[1]]);
  return [pt(lo - pad), pt(at[v]), pt(hi + pad)];
}

/** Pairs of grids of one community that share an edge of a few vertices (long enough to bend, short enough
 * to trace by hand), longest first. */
function adjacentPairs(features) {
  const key = (c) => `${c[0].toFixed(7)},${c[1].toFixed(7)}`;
  const ring = (f) => (f.geometry.type === "Polygon" ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0]);
  const sets = features.map((f) => new Set(ring(f).map(key)));
  const pairs = [];
  for (let i = 0; i < features.length; i++) for (let j = i + 1; j < features.length; j++) {
    if (features[i].properties.community_code !== features[j].properties.community_code) continue;
    let n = 0;
    for (const k of sets[i]) if (sets[j].has(k)) n++;
    if (n >= 4 && n <= 12) pairs.push({ a: features[i], b: features[j], n });
  }
  return pairs.sort((x, y) => y.n - x.n);
}
function adjacentPair(features) { return adjacentPairs(features)[0] || null; }

/** The shared run of vertices of a and b, in a's ring order (a's ring rotated so the run is contiguous). */
function sharedRun(a, b) {
  const key = (c) => `${c[0].toFixed(7)},${c[1].toFixed(7)}`;
  const ring = (f) => (f.geometry.type === "Polygon" ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0]);
  const ra = ring(a).slice(0, -1), inB = new Set(ring(b).map(key));
  const flags = ra.map((c) => inB.has(key(c)));
  const start = flags.findIndex((f, i) => f && !flags[(i - 1 + flags.length) % flags.length]);
  const run = [];
  for (let k = 0; k < ra.length; k++) { const i = (start + k) % ra.length; if (!flags[i]) break; run.push(ra[i]); }
  return run;
}

// --- steps ----------------------------------------------------------------------------------------------
const state = {};

const steps = {
  async login(browser) {
    const { page, context } = await newPage(browser);
    await page.goto(`${BASE}/`);
    await page.waitForSelector("#login-view:not([hidden]), body[data-ready='1']");
    if (!(await page.isVisible("#login-view"))) throw new Skip("the server has no accounts: no log-in page");
    assert((await page.textContent("#login-submit")).trim() === "登录", "the log-in page is in Chinese by default");
    await page.fill("#login-user", "planner");
    await page.fill("#login-pass", "wrong-password");
    await page.click("#login-submit");
    await page.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
    assert((await page.textContent("#login-error")).includes("用户名或密码错误"), "a bad password says so");
    await shot(page, "01-login-failed");
    await page.fill("#login-pass", PASSWORD);
    await page.click("#login-submit");
    await page.waitForSelector("body[data-ready='1']");
    assert((await page.textContent("#who")).includes("planner"), "the header names the user");
    await mapIdle(page);
    await shot(page, "02-workspace");
    await page.click("#logout");
    await page.waitForSelector("#login-view:not([hidden])");
    const me = await page.request.get(`${BASE}/api/v1/auth/me`);
    assert(me.status() === 401, `after log-out /auth/me is 401, got ${me.status()}`);
    await context.close();
  },

  async dashboard(browser) {
    const { page, context } = await newPage(browser);
    await login(page, "viewer");
    await page.waitForSelector("#db-panel:not([hidden])");
    assert(await page.isHidden("#nav-workspace"), "a viewer sees no planner workspace");
    await page.waitForFunction(() => !document.querySelector("#fig-grids .v").textContent.includes("…"), null, { timeout: 30000 });
    const figures = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll(".figure")].map((el) => [el.id, el.querySelector(".v").textContent])));
    const plans = (await apiCall(page, "/plans")).body;
    const published = plans.find((p) => p.status === "published");
    assert(figures["fig-grids"].replace(/,/g, "") === String(published.grids), `headline grids ${figures["fig-grids"]} = the published plan's ${published.grids}`);
    const open = (await apiCall(page, "/incidents?open=true&limit=1")).body.total;
    assert(figures["fig-openInc"].replace(/,/g, "") === String(open), `open incidents ${figures["fig-openInc"]} = ${open}`);
    // Charts (ECharts, served from web/node_modules): drawn, counting what the figures count.
    await page.waitForFunction(() => window.gp.dashboard.charts && document.querySelector("#chart-time canvas") && document.querySelector("#chart-staffing canvas"), null, { timeout: 30000 });
    const charts = await page.evaluate(() => {
      const d = window.gp.dashboard, sum = (a) => a.reduce((s, v) => s + (v || 0), 0);
      const bars = (id) => { const o = d.chartOption(id); return { labels: o.yAxis[0].data, total: sum(o.series.flatMap((x) => x.data)) }; };
      return { reported: sum(d.chartOption("chart-time").series[0].data), category: bars("chart-category"), ranking: bars("chart-ranking"),
               staffing: d.chartOption("chart-staffing").series[0].data.length, level: d.charts.ranking.level, matching: d.incidents.totals.matching };
    });
    assert(charts.reported === charts.matching && charts.matching > 0, `the time series counts every incident: ${charts.reported} = ${charts.matching}`);
    assert(charts.category.total === charts.matching && charts.category.labels.length > 1, `the category bars add up to the incidents: ${charts.category.total}`);
    assert(charts.level === "street" && charts.ranking.labels.length > 0 && charts.ranking.total <= charts.matching, `streets ranked: ${charts.ranking.labels.join(", ")}`);
    assert(charts.staffing > 0, "staffing compliance per community charted");
    await page.locator("#chart-category").scrollIntoViewIfNeeded();
    await shot(page, "03a-dashboard-charts");
    // A click on a category's bar filters the dashboard by it; a second click lifts it.
    const firstCategory = charts.category.labels[0];
    let seq0 = await page.evaluate(() => window.gp.dashboard.seq);
    await page.locator("#chart-category").scrollIntoViewIfNeeded();
    let pt = await page.evaluate(() => window.gp.dashboard.barPoint("chart-category", 0));
    await page.mouse.click(pt.x, pt.y);
    await page.waitForFunction((s) => window.gp.dashboard.seq > s && window.gp.dashboard.charts && window.gp.dashboard.figures, seq0, { timeout: 30000 });
    assert(await page.evaluate(() => window.gp.dashboard.f.category) === firstCategory, `clicking ${firstCategory} filters by it`);
    const narrowed = await page.evaluate(() => window.gp.dashboard.incidents.totals.matching);
    const byApi = (await apiCall(page, `/incidents?category=${encodeURIComponent(firstCategory)}&limit=1`)).body.total;
    assert(narrowed === byApi && (await page.inputValue("#db-category")) === firstCategory, `the figures follow the clicked category: ${narrowed} = ${byApi}`);
    seq0 = await page.evaluate(() => window.gp.dashboard.seq);
    await page.locator("#chart-category").scrollIntoViewIfNeeded();
    pt = await page.evaluate(() => window.gp.dashboard.barPoint("chart-category", 0));
    await page.mouse.click(pt.x, pt.y);
    await page.waitForFunction((s) => window.gp.dashboard.seq > s && window.gp.dashboard.figures, seq0, { timeout: 30000 });
    assert(await page.evaluate(() => window.gp.dashboard.f.category) === "", "a second click lifts the category filter");
    await mapIdle(page);
    const drawn = await page.evaluate(() => window.gp.map.queryRenderedFeatures({ layers: ["db-hh"] }).length);
    assert(drawn > 0, "households per grid drawn from the tiles");
    assert((await page.textContent("#legend-title")).includes("网格户数"), "legend of households");
    await shot(page, "03-dashboard-households");
    for (const mode of ["staffing", "incidents", "heat"]) {
      await page.click(`#mode-${mode}`);
      await mapIdle(page);
      await shot(page, `04-dashboard-${mode}`);
    }
    // Filters. Every figure, the grids drawn, the per-grid incident map and the heat follow one selection;
    // each is checked against the plain incidents API (a separate code path) summed over the street's communities.
    const num = async (k) => Number((await page.textContent(`#fig-${k} .v`)).replace(/,/g, ""));
    const filter = async (sel, value) => {
      const seq = await page.evaluate(() => window.gp.dashboard.seq);
      if (sel === "#db-from" || sel === "#db-to") { await page.fill(sel, value); await page.dispatchEvent(sel, "change"); } else await page.selectOption(sel, value);
      await page.waitForFunction((s) => window.gp.dashboard.seq > s && window.gp.dashboard.figures, seq, { timeout: 30000 });
      await mapIdle(page);
    };
    const street = await page.$eval("#db-street option:nth-child(2)", (o) => o.value);
    const comms = await page.evaluate((st) => window.gp.ctx.hierarchy.flatMap((d) => d.streets).find((s) => s.code === st).communities.map((c) => c.code), street);
    const count = async (q) => { let n = 0; for (const c of comms) n += (await apiCall(page, `/incidents?community=${c}&limit=1${q}`)).body.total; return n; };
    await filter("#db-street", street);
    const compliance = (await apiCall(page, "/staff/compliance")).body.grids.filter((g) => g.community_code.startsWith(street));
    assert(await num("grids") === compliance.length, `grids in the street: ${await num("grids")} = ${compliance.length}`);
    assert(await num("staffingGaps") === compliance.filter((g) => g.status === "缺员").length, "staffing gaps in the street");
    const streetOpen = await count("&open=true");
    assert(await num("openInc") === streetOpen && streetOpen < open, `open incidents in the street: ${await num("openInc")} = ${streetOpen} < ${open}`);
    assert(await num("overdueInc") === await count("&overdue=true"), "overdue incidents in the street");
    const streetAll = await count("");
    const heat = await page.evaluate(async () => (await window.gp.map.getSource("db-heat-src").getData()).features.reduce((s, f) => s + f.properties.count, 0));
    assert(heat === streetAll, `the heatmap holds the street's incidents only: ${heat} = ${streetAll}`);
    await page.click("#mode-heat");
    await mapIdle(page);
    const outside = await page.evaluate((st) => window.gp.map.queryRenderedFeatures({ layers: ["db-line"] }).filter((f) => !f.properties.community_code.startsWith(st)).length, street);
    assert(outside === 0, `only the street's grids are drawn (${outside} others)`);
    await shot(page, "05a-dashboard-heat-street");
    // Status on the per-grid incident map: closed incidents only, then one open status.
    await page.click("#mode-incidents");
    for (const [status, open_] of [["结案", false], ["受理", true]]) {
      await filter("#db-status", status);
      const matching = await count(`&status=${encodeURIComponent(status)}`);
      assert(await num("matchingInc") === matching, `${status}: ${await num("matchingInc")} incidents = ${matching}`);
      assert((await num("openInc") > 0) === open_, `${status}: open incidents ${await num("openInc")}`);
      const top = await page.evaluate(() => [...window.gp.dashboard.incidents.grids].sort((a, b) => b.matching - a.matching)[0]);
      const perGrid = (await apiCall(page, `/incidents?grid_code=${top.code}&status=${encodeURIComponent(status)}&limit=1`)).body.total;
      const drawn = await page.evaluate((code) => window.gp.map.queryRenderedFeatures({ layers: ["db-inc"] }).find((f) => f.properties.code === code)?.state, top.code);
      assert(drawn && drawn.matching === perGrid && (drawn.open > 0) === open_, `grid ${top.code} is painted with its ${status} incidents: ${JSON.stringify(drawn)} vs ${perGrid}`);
      await shot(page, `05b-dashboard-status-${open_ ? "open" : "closed"}`);
    }
    await filter("#db-status", "");
    const cat = await page.$eval("#db-category option:nth-child(2)", (o) => o.value);
    await filter("#db-category", cat);
    await filter("#db-from", "2026-01-01");
    const filteredOpen = await num("openInc");
    const expected = await count(`&open=true&category=${encodeURIComponent(cat)}&from=${encodeURIComponent("2026-01-01T00:00:00+08:00")}`);
    assert(filteredOpen === expected && filteredOpen < streetOpen, `a category and a start date narrow the open incidents (${filteredOpen} = ${expected} < ${streetOpen})`);
    assert((await page.textContent("#legend-filters")).includes(cat), "the legend names the filters in force");
    await shot(page, "05-dashboard-filtered");
    // An end date before the start date: said in Chinese beside the dates, and nothing else changes.
    const seqBefore = await page.evaluate(() => window.gp.dashboard.seq);
    await page.fill("#db-to", "2025-12-31");
    await page.dispatchEvent("#db-to", "change");
    await page.waitForSelector("#db-range-error");
    const said = await page.textContent("#db-range-error");
    assert(/起始日期晚于截止日期/.test(said), `the bad range is explained in Chinese (${said})`);
    assert(await page.evaluate((s) => window.gp.dashboard.seq === s && window.gp.dashboard.f.to === "", seqBefore), "a bad range loads nothing and keeps the filters");
    assert((await num("openInc")) === filteredOpen && !(await page.isDisabled("#db-export-csv")), "a bad range keeps every figure and the export");
    assert((await page.inputValue("#db-to")) === "", "the end date goes back to what was applied");
    await shot(page, "05c-dashboard-bad-range");
    // Export: the figures CSV follows the filters.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#db-export-csv")]);
    assert(download.suggestedFilename().endsWith(".csv"), "a CSV download");
    const csv = readFileSync(await download.path(), "utf8");
    const codes = [...csv.matchAll(/^"(\d{15,})","(\d{12})"/gm)].map((m) => m[2]);
    assert(csv.includes(cat) && codes.length === compliance.length && codes.every((c) => c.startsWith(street)), `the CSV holds the filters and the street's ${compliance.length} grids (${codes.length})`);
    assert(csv.includes(`"${filteredOpen}"`), "the CSV holds the filtered open incidents");
    const xlsx = await page.request.get(`${BASE}/api/v1/staff/compliance/export?format=xlsx`);
    assert(xlsx.status() === 200, "the staffing XLSX export answers");
    // English switch: every label changes.
    await page.click("header button.lang");
    await page.waitForFunction(() => document.querySelector("#nav-dashboard").textContent === "Dashboard");
    assert((await page.textContent("#fig-grids .k")) === "Grids", "figures in English");
    await shot(page, "06-dashboard-english");
    await page.click("header button.lang");
    // Base map: a WMTS-style template with a key, kept in localStorage and drawn under the app's layers.
    await page.click("#open-settings");
    await page.check("#bm-tiles");
    await page.fill("#bm-url", `${BASE}/no-such-tiles/{z}/{x}/{y}.png?tk={key}`);
    await page.fill("#bm-key", "abc123");
    await shot(page, "06b-settings");
    await page.click("#bm-save");
    await page.waitForFunction(() => window.gp.map.getSource("basemap"));
    const tiles = await page.evaluate(() => window.gp.map.getStyle().sources.basemap?.tiles?.[0]);
    assert(tiles && tiles.endsWith("tk=abc123"), `the base map source uses the template with the key: ${tiles}`);
    assert(await page.evaluate(() => JSON.parse(localStorage.getItem("gridplanner.basemap")).key === "abc123"), "kept in localStorage");
    await page.click("#open-settings");
    await page.check("#bm-blank");
    await page.click("#bm-save");
    await page.waitForFunction(() => !window.gp.map.getSource("basemap"), null, { timeout: 5000 }).catch(() => {});
    assert(!(await page.evaluate(() => window.gp.map.getSource("basemap"))), "blank again");
    await context.close();
  },
  async split(browser) {
    if (!(await editingAvailable())) throw new Skip("the server has no editing API");
    const { page } = await newPage(browser);
    state.page = page;
    await login(page, "planner");
    await page.waitForSelector("#ws-panel:not([hidden])");
    const previous = await page.evaluate(() => window.gp.workspace.plans.map((p) => p.id));
    await page.click("#ws-new-draft");
    await page.waitForFunction((ids) => window.gp.workspace.plan?.status === "draft" && !ids.includes(window.gp.workspace.plan.id), previous, { timeout: 60000 })
      .catch(async (e) => { throw new Error(`no new draft: ${e.message.split("\n")[0]}; workspace: ${await page.evaluate(() => JSON.stringify({ plan: window.gp.workspace.plan, plans: window.gp.workspace.plans, message: window.gp.workspace.message }))}`); });
    state.planId = await page.evaluate(() => window.gp.workspace.plan.id);
    await mapIdle(page);
    const before = (await apiCall(page, `/plans/${state.planId}`)).body.grids;
    const feats = (await apiCall(page, `/collections/grids/items?plan=${state.planId}&limit=10000`)).body.features;
    state.copiedIds = new Set(feats.map((f) => f.id));
    // The grid with the most households (over the rule if any): worth splitting.
    const { target, pixels, features } = await firstDrawn(page, feats.filter((f) => f.properties.type === "basic").sort((a, b) => b.properties.households - a.properties.households));
    const gb = [Infinity, Infinity, -Infinity, -Infinity];
    const walk = (c) => { if (typeof c[0] === "number") { gb[0] = Math.min(gb[0], c[0]); gb[1] = Math.min(gb[1], c[1]); gb[2] = Math.max(gb[2], c[0]); gb[3] = Math.max(gb[3], c[1]); } else c.forEach(walk); };
    walk(features[0].geometry.coordinates);
    await page.click("#tool-split");
    await page.mouse.click(pixels[target.id].x, pixels[target.id].y);
    await page.waitForFunction(() => window.gp.workspace.draw.active);
    // A line across the grid through the clicked point, reaching a little beyond it on both sides.
    const at = await page.evaluate(([x, y]) => { const r = window.gp.map.getCanvas().getBoundingClientRect(); const l = window.gp.map.unproject([x - r.left, y - r.top]); return [l.lng, l.lat]; }, [pixels[target.id].x, pixels[target.id].y]);
    const line = crossingLine(features[0], at, gb[2] - gb[0] < gb[3] - gb[1]);
    await shot(page, "07-split-selected");
    await drawLine(page, await toScreen(page, line));
    await page.waitForSelector("#ws-message.msg.ok, #ws-message.msg.err", { timeout: 30000 });
    const msg = await page.textContent("#ws-message");
    assert(await page.isVisible("#ws-message.msg.ok"), `split done: ${msg}`);
    await mapIdle(page);
    const after = (await apiCall(page, `/plans/${state.planId}`)).body.grids;
    assert(after >= before + 1, `the split adds a grid (${before} -> ${after})`);
    await page.waitForFunction(() => window.gp.workspace.validation?.summary);
    await shot(page, "08-split-done");
  },

  async merge() {
    const page = state.page;
    if (!state.planId) throw new Skip("no draft (split did not run)");
    const before = (await apiCall(page, `/plans/${state.planId}`)).body.grids;
    // Grids as copied from the published plan (not the halves the split just made: merging those back and
    // undoing that is the editing service's own test).
    const feats = (await apiCall(page, `/collections/grids/items?plan=${state.planId}&limit=10000`)).body.features
      .filter((f) => f.properties.type === "basic" && state.copiedIds.has(f.id));
    const pair = adjacentPair(feats.sort((a, b) => a.properties.households - b.properties.households).slice(0, 60));
    assert(pair, "two adjacent small grids to merge");
    const { pixels } = await focusGrids(page, [pair.a.id, pair.b.id], state.planId);
    await page.click("#tool-merge");
    await page.mouse.click(pixels[pair.a.id].x, pixels[pair.a.id].y);
    await page.mouse.click(pixels[pair.b.id].x, pixels[pair.b.id].y);
    await page.waitForFunction(() => window.gp.workspace.selected.length === 2);
    await shot(page, "09-merge-selected");
    await page.click("#ws-merge");
    await page.waitForSelector("#ws-message.msg.ok, #ws-message.msg.err", { timeout: 30000 });
    assert(await page.isVisible("#ws-message.msg.ok"), `merge done: ${await page.textContent("#ws-message")}`);
    const after = (await apiCall(page, `/plans/${state.planId}`)).body.grids;
    assert(after === before - 1, `the merge removes one grid (${before} -> ${after})`);
    await mapIdle(page);
    await shot(page, "10-merge-done");
    state.merged = { before, after, ids: [pair.a.id, pair.b.id] };
  },

  async undo() {
    const page = state.page;
    if (!state.merged) throw new Skip("nothing merged to undo");
    await page.click("#ws-undo");
    await page.waitForFunction(() => document.querySelector("#ws-message")?.textContent.includes("撤销"), null, { timeout: 30000 });
    assert(await page.isVisible("#ws-message.msg.ok"), `undo done: ${await page.textContent("#ws-message")}`);
    const grids = (await apiCall(page, `/plans/${state.planId}`)).body.grids;
    if (grids !== state.merged.before) {
      const history = (await apiCall(page, `/plans/${state.planId}/edits`)).body;
      throw new Error(`undo brings the merged grids back (${state.merged.before} before the merge, ${state.merged.after} after, ${grids} after the undo); message: ${await page.textContent("#ws-message")}; history: ${JSON.stringify(history)}`);
    }
    await mapIdle(page);
    await shot(page, "11-undo");
    await page.click("#ws-redo");
    await page.waitForFunction(() => document.querySelector("#ws-message")?.textContent.includes("重做"), null, { timeout: 30000 });
    assert((await apiCall(page, `/plans/${state.planId}`)).body.grids === state.merged.after, "redo merges again");
  },

  async reshape() {
    const page = state.page;
    if (!state.planId) throw new Skip("no draft");
    const feats = (await apiCall(page, `/collections/grids/items?plan=${state.planId}&limit=10000`)).body.features.filter((f) => f.properties.type === "basic");
    const pairs = adjacentPairs(feats);
    assert(pairs.length, "two grids sharing an edge");
    const refusals = [];
    // The planner traces the shared edge from corner to corner, pulling its middle vertex 25 px into one grid
    // (the other grows, both move together). A bend that would cut a building is refused: redraw another.
    for (const [pair, intoA] of pairs.slice(0, 3).flatMap((p) => [[p, true], [p, false]])) {
      const run = sharedRun(pair.a, pair.b);
      if (run.length < 3) continue;
      const into = intoA ? pair.a : pair.b;
      const ring = into.geometry.type === "Polygon" ? into.geometry.coordinates[0] : into.geometry.coordinates[0][0];
      const centre = [ring.reduce((s, c) => s + c[0], 0) / ring.length, ring.reduce((s, c) => s + c[1], 0) / ring.length];
      let pixels;
      try { ({ pixels } = await focusGrids(page, [pair.a.id, pair.b.id], state.planId)); } catch (e) { refusals.push(e.message.split("\n")[0]); continue; }
      await page.click("#tool-reshape");
      await page.mouse.click(pixels[pair.a.id].x, pixels[pair.a.id].y);
      await page.mouse.click(pixels[pair.b.id].x, pixels[pair.b.id].y);
      await page.waitForFunction(() => window.gp.workspace.draw.active, null, { timeout: 15000 });
      const [c, ...px] = await toScreen(page, [centre, ...run]);
      const m = Math.floor(px.length / 2), d = Math.hypot(c.x - px[m].x, c.y - px[m].y);
      px[m] = { x: px[m].x + (25 * (c.x - px[m].x)) / d, y: px[m].y + (25 * (c.y - px[m].y)) / d };
      await page.evaluate(() => { window.gp.workspace.message = null; window.gp.workspace.renderMessage(); });
      await drawLine(page, px);
      await page.waitForSelector("#ws-message.msg.ok, #ws-message.msg.err", { timeout: 30000 });
      if (await page.isVisible("#ws-message.msg.ok")) {
        await page.waitForFunction(() => window.gp.workspace.validation?.summary);
        const v = await page.evaluate(() => window.gp.workspace.validation);
        assert(v.ok, `no gap or overlap after the reshape: ${JSON.stringify(v.summary)}`);
        // Both neighbours moved together: each changed its area, their union kept it.
        const areas = await Promise.all([pair.a, pair.b].map(async (g) => (await apiCall(page, `/collections/grids/items/${g.id}?plan=${state.planId}`)).body.properties.area_m2));
        const was = [pair.a.properties.area_m2, pair.b.properties.area_m2];
        assert(areas[0] !== was[0] && areas[1] !== was[1], `both grids changed: ${was} -> ${areas}`);
        assert(Math.abs(areas[0] + areas[1] - was[0] - was[1]) < 1, `the two grids cover the same ground together: ${was[0] + was[1]} -> ${areas[0] + areas[1]} m²`);
        await mapIdle(page);
        await shot(page, "12-reshape-done");
        return;
      }
      refusals.push(await page.textContent("#ws-message"));
      await shot(page, "12-reshape-refused");
      await page.click("#ws-clear-line");
    }
    throw new Error(`every reshape was refused: ${refusals.join(" | ")}`);
  },

  async move() {
    const page = state.page;
    if (!state.planId) throw new Skip("no draft");
    await page.click("#tool-move");
    const feats = (await apiCall(page, `/collections/grids/items?plan=${state.planId}&limit=10000`)).body.features.filter((f) => f.properties.type === "basic");
    const refusals = [];
    // The building of one grid nearest the edge it shares with a neighbour: the one a planner would hand over.
    for (const pair of adjacentPairs(feats).slice(0, 4)) for (const [from, to] of [[pair.a, pair.b], [pair.b, pair.a]]) {
      const run = sharedRun(pair.a, pair.b);
      const inFrom = (await apiCall(page, `/plans/${state.planId}/buildings?grid=${from.id}`)).body.features.filter((b) => b.properties.grid_id === from.id && b.geometry.type !== "Point");
      if (!inFrom.length) continue;
      const centre = (b) => { const r = b.geometry.type === "Polygon" ? b.geometry.coordinates[0] : b.geometry.coordinates[0][0]; const n = r.length - 1; return [r.slice(0, n).reduce((s, c) => s + c[0], 0) / n, r.slice(0, n).reduce((s, c) => s + c[1], 0) / n]; };
      const near = (b) => Math.min(...run.map((v) => Math.hypot(v[0] - centre(b)[0], v[1] - centre(b)[1])));
      const building = inFrom.sort((x, y) => near(x) - near(y))[0];
      const households = async () => Promise.all([from.id, to.id].map(async (id) => (await apiCall(page, `/collections/grids/items/${id}?plan=${state.planId}`)).body.properties.households));
      const hhBefore = await households();
      await focusGrids(page, [from.id, to.id], state.planId);
      await page.waitForFunction((id) => window.gp.workspace.buildings?.has(id), building.id, { timeout: 30000 });
      await mapIdle(page);
      const spots = await page.evaluate(([bid, gid, c]) => {
        const { map } = window.gp;
        const rect = map.getCanvas().getBoundingClientRect();
        const q = map.project(c);
        const onBuilding = (x, y, pad) => map.queryRenderedFeatures([[x - pad, y - pad], [x + pad, y + pad]], { layers: ["ws-buildings-fill", "ws-buildings-pt"] });
        const hit = onBuilding(q.x, q.y, 1).find((f) => f.id === bid);
        // A spot of the target grid well away from any building: where the planner clicks to pick it.
        let target = null;
        for (let r = 0; r < 400 && !target; r += 6) for (let a = 0; a < 360 && !target; a += 15) {
          const x = q.x + r * Math.cos((a * Math.PI) / 180), y = q.y + r * Math.sin((a * Math.PI) / 180);
          if (x < 5 || y < 5 || x > rect.width - 5 || y > rect.height - 5) continue;
          const g = map.queryRenderedFeatures([x, y], { layers: ["ws-grids-fill"] })[0];
          if (g && g.id === gid && !onBuilding(x, y, 8).length) target = { x: rect.left + x, y: rect.top + y };
        }
        return { building: hit ? { x: rect.left + q.x, y: rect.top + q.y } : null, target };
      }, [building.id, to.id, centre(building)]);
      if (!spots.building || !spots.target) { refusals.push(`building ${building.id} or grid ${to.id} not drawn`); continue; }
      // Box select (shift-drag) around the building, then a clear, then a plain click on it.
      await page.keyboard.down("Shift");
      await page.mouse.move(spots.building.x - 6, spots.building.y - 6);
      await page.mouse.down();
      await page.mouse.move(spots.building.x + 6, spots.building.y + 6, { steps: 4 });
      await page.mouse.up();
      await page.keyboard.up("Shift");
      const boxed = await page.evaluate(() => [...window.gp.workspace.moveSel.keys()]);
      assert(boxed.includes(building.id), `the box selects building ${building.id}: ${boxed}`);
      await page.click("#ws-move-clear");
      assert((await page.evaluate(() => window.gp.workspace.moveSel.size)) === 0, "the selection is cleared");
      await page.mouse.click(spots.building.x, spots.building.y);
      await page.waitForFunction((id) => window.gp.workspace.moveSel.has(id) && window.gp.workspace.moveSel.size === 1, building.id);
      assert((await page.textContent("#move-count")).startsWith("1"), `the panel counts one building: ${await page.textContent("#move-count")}`);
      await page.mouse.click(spots.target.x, spots.target.y);
      await page.waitForFunction((id) => window.gp.workspace.moveTarget?.id === id, to.id);
      await shot(page, "18-move-selected");
      await page.evaluate(() => { window.gp.workspace.message = null; window.gp.workspace.renderMessage(); });
      await page.click("#ws-move-apply");
      await page.waitForSelector("#ws-message.msg.ok, #ws-message.msg.err", { timeout: 30000 });
      if (await page.isVisible("#ws-message.msg.ok")) {
        const moved = (await apiCall(page, `/plans/${state.planId}/buildings?grid=${to.id}`)).body.features.find((b) => b.id === building.id);
        assert(moved && moved.properties.grid_id === to.id, `building ${building.id} is now in grid ${to.id}`);
        // The editor recounts with the planning engine's household rule, so households move, none appear or vanish.
        const hhAfter = await households();
        assert(!building.properties.households || (hhAfter[0] < hhBefore[0] && hhAfter[1] > hhBefore[1]), `households go with building ${building.id} (${building.properties.households}): from ${hhBefore[0]} -> ${hhAfter[0]}, to ${hhBefore[1]} -> ${hhAfter[1]}`);
        assert(hhAfter[0] + hhAfter[1] === hhBefore[0] + hhBefore[1], `households are conserved by the move: ${hhBefore} -> ${hhAfter}`);
        await page.waitForFunction(() => window.gp.workspace.validation?.summary);
        const v = await page.evaluate(() => window.gp.workspace.validation);
        assert(v.ok, `no gap or overlap after the move: ${JSON.stringify(v.summary)}`);
        await page.waitForFunction(([bid, gid]) => window.gp.workspace.buildings?.get(bid)?.grid_id === gid, [building.id, to.id], { timeout: 30000 });
        await mapIdle(page);
        await shot(page, "19-move-done");
        return;
      }
      refusals.push(await page.textContent("#ws-message"));
      await page.click("#ws-move-clear");
    }
    throw new Error(`no building could be moved: ${refusals.join(" | ")}`);
  },

  async replan() {
    const page = state.page;
    if (!state.planId) throw new Skip("no draft");
    const feats = (await apiCall(page, `/collections/grids/items?plan=${state.planId}&limit=10000`)).body.features;
    const byCommunity = {};
    for (const f of feats) (byCommunity[f.properties.community_code] ||= []).push(f.id);
    const [community, before] = Object.entries(byCommunity).filter(([, ids]) => ids.length >= 3).sort((a, b) => b[1].length - a[1].length)[0];
    await page.click("#tool-replan");
    assert(await page.isDisabled("#ws-replan"), "re-plan waits for a community");
    await page.selectOption("#ws-street", community.slice(0, 9));
    await page.selectOption("#ws-community", community);
    await page.fill("#ws-min", "250");
    await page.fill("#ws-max", "450");
    await mapIdle(page);
    await shot(page, "20-replan-community");
    await page.evaluate(() => { window.gp.workspace.message = null; window.gp.workspace.renderMessage(); });
    const answer = page.waitForResponse((r) => r.url().includes("/edits/replan"), { timeout: 120000 });
    await page.click("#ws-replan");
    await page.waitForSelector("#confirm-dialog[open]");
    await page.click("#confirm-ok");
    const res = await answer;
    const body = await res.json();
    assert(res.status() === 200, `re-plan answered ${res.status()}: ${JSON.stringify(body)}`);
    await page.waitForSelector("#ws-message.msg.ok", { timeout: 60000 });
    assert((await page.textContent("#ws-message")).includes(`生成网格 ${body.replan.grids}`), `the message gives the grids made: ${await page.textContent("#ws-message")}`);
    const after = (await apiCall(page, `/collections/grids/items?plan=${state.planId}&limit=10000`)).body.features.filter((f) => f.properties.community_code === community);
    assert(after.length === body.replan.grids, `the community has the ${body.replan.grids} grids made (${after.length})`);
    assert(!after.some((f) => before.includes(f.id)), "the community's grids were replaced");
    const v = (await apiCall(page, `/plans/${state.planId}/validation?community=${community}`)).body;
    assert(v.summary.gaps === 0 && v.summary.overlaps === 0 && !v.summary.crossing, `the re-planned community has no gap, overlap or crossing: ${JSON.stringify(v.summary)}`);
    await mapIdle(page);
    await shot(page, "21-replan-done");
  },

  async english(browser) {
    if (!state.planId) throw new Skip("no draft");
    const { page, context } = await newPage(browser);
    await login(page, "planner");
    await page.waitForSelector("#ws-panel:not([hidden])");
    const missing = await page.evaluate(async () => { const { STRINGS } = await import("./i18n.js"); return Object.keys(STRINGS.zh).filter((k) => !(k in STRINGS.en)).concat(Object.keys(STRINGS.en).filter((k) => !(k in STRINGS.zh))); });
    assert(!missing.length, `every string in both languages: ${missing}`);
    await page.click("header button.lang");
    await page.waitForFunction(() => document.querySelector("#nav-workspace").textContent === "Planner workspace");
    // Labels only: place, plan, building and category names are data and stay as they are.
    const chinese = (sel) => page.evaluate((sel) => {
      const el = document.querySelector(sel).cloneNode(true);
      el.querySelectorAll("select, #move-ids, #db-scope, #legend-filters, button.lang, .data").forEach((x) => x.remove());
      return (el.textContent.match(/[\u3400-\u9fff]+/g) || []).join(" ");
    }, sel);
    await page.waitForFunction((id) => window.gp.workspace.plan?.id === id, state.planId).catch(() => {});
    for (const tool of ["select", "split", "merge", "reshape", "move", "replan"]) {
      await page.click(`#tool-${tool}`);
      const left = (await chinese("#ws-panel")) + " " + (await chinese("#legend")) + " " + (await chinese("header"));
      assert(!left.trim(), `the ${tool} tool in English has no Chinese label left: ${left}`);
    }
    await page.click("#ws-diff");
    await page.waitForSelector("#ws-diff-box #diff-summary");
    assert(!(await chinese("#ws-panel")).trim() && !(await chinese("#legend")).trim(), `the diff view in English: ${await chinese("#ws-panel")} ${await chinese("#legend")}`);
    await shot(page, "22-workspace-english");
    await page.click("#nav-dashboard");
    await page.waitForFunction(() => window.gp.dashboard.figures);
    for (const mode of ["households", "staffing", "incidents", "heat"]) {
      await page.click(`#mode-${mode}`);
      const left = (await chinese("#db-panel")) + " " + (await chinese("#legend"));
      assert(!left.trim(), `the dashboard (${mode}) in English has no Chinese label left: ${left}`);
    }
    await page.click("header button.lang");
    await context.close();
  },

  async conflict(browser) {
    const page = state.page;
    if (!state.planId) throw new Skip("no draft");
    // Another planner changes the plan behind this one's back.
    const other = await newPage(browser);
    await login(other.page, "planner2");
    const plan = (await apiCall(other.page, `/plans/${state.planId}`)).body;
    const theirs = await apiCall(other.page, `/plans/${state.planId}/undo`, "POST", { lock_version: plan.lock_version });
    assert(theirs.status === 200, `the other planner's edit went through: ${JSON.stringify(theirs.body)}`);
    await other.context.close();
    const stale = await page.evaluate(() => window.gp.workspace.plan.lock_version);
    // This planner, unaware, splits a grid.
    const feats = (await apiCall(page, `/collections/grids/items?plan=${state.planId}&limit=10000`)).body.features;
    const { target, pixels, features } = await firstDrawn(page, feats.filter((f) => f.properties.type === "basic").sort((a, b) => b.properties.households - a.properties.households));
    const gb = [Infinity, Infinity, -Infinity, -Infinity];
    const walk = (c) => { if (typeof c[0] === "number") { gb[0] = Math.min(gb[0], c[0]); gb[1] = Math.min(gb[1], c[1]); gb[2] = Math.max(gb[2], c[0]); gb[3] = Math.max(gb[3], c[1]); } else c.forEach(walk); };
    walk(features[0].geometry.coordinates);
    await page.click("#tool-split");
    await page.mouse.click(pixels[target.id].x, pixels[target.id].y);
    await page.waitForFunction(() => window.gp.workspace.draw.active);
    const at = await page.evaluate(([x, y]) => { const r = window.gp.map.getCanvas().getBoundingClientRect(); const l = window.gp.map.unproject([x - r.left, y - r.top]); return [l.lng, l.lat]; }, [pixels[target.id].x, pixels[target.id].y]);
    const line = crossingLine(features[0], at, gb[2] - gb[0] >= gb[3] - gb[1]);
    await drawLine(page, await toScreen(page, line));
    await page.waitForSelector("#ws-message.msg.ok, #ws-message.msg.err", { timeout: 30000 });
    const msg = await page.textContent("#ws-message");
    assert(await page.isVisible("#ws-message.msg.err"), `a stale edit is refused: ${msg}`);
    assert(msg.includes("其他规划员") && msg.includes(String(plan.lock_version + 1)), `the message says another planner changed the plan: ${msg}`);
    const kept = await page.evaluate(() => window.gp.workspace.draw.points.length);
    assert(kept === 3, `the drawn line is kept (${kept} points)`);
    const now = await page.evaluate(() => window.gp.workspace.plan.lock_version);
    assert(now > stale, `the plan was reloaded (${stale} -> ${now})`);
    await shot(page, "13-conflict");
    await page.click("#ws-apply-line");
    await page.waitForSelector("#ws-message.msg.ok", { timeout: 30000 });
    await mapIdle(page);
    await shot(page, "14-conflict-retried");
  },

  async drafts(browser) {
    // A planner with no draft of their own lands on the published plan, not on a colleague's draft; makes,
    // renames and deletes their own; and is told that publishing is an admin's.
    const { page, context } = await newPage(browser);
    await login(page, "planner2");
    await page.waitForSelector("#ws-panel:not([hidden])");
    await page.waitForFunction(() => window.gp.workspace.plan);
    const mine = (await apiCall(page, "/plans")).body.filter((p) => p.status === "draft" && p.created_by === "planner2");
    const landed = await page.evaluate(() => window.gp.workspace.plan);
    assert(mine.length ? landed.created_by === "planner2" : landed.status === "published", `planner2 lands on ${landed.status} plan ${landed.id} by ${landed.created_by}`);
    const before = landed.id;
    await page.click("#ws-new-draft");
    await page.waitForFunction((b) => window.gp.workspace.plan && window.gp.workspace.plan.id !== b && window.gp.workspace.plan.status === "draft", before, { timeout: 30000 });
    const draft = await page.evaluate(() => window.gp.workspace.plan);
    assert(draft.created_by === "planner2", `the new draft is planner2's (${draft.created_by})`);
    assert((await page.textContent("#ws-plan option:checked")).includes("planner2"), "the plan list names the draft's author");
    assert(await page.isDisabled("#ws-publish") && (await page.textContent("#ws-publish-note")).includes("只有管理员"), "a planner's publish button is off, and says why");
    await page.click("#ws-rename");
    await page.fill("#ws-rename-input", "e2e 送审稿");
    await page.click("#confirm-ok");
    await page.waitForFunction(() => window.gp.workspace.plan?.name === "e2e 送审稿", null, { timeout: 30000 });
    assert((await apiCall(page, `/plans/${draft.id}`)).body.name === "e2e 送审稿", "renamed in the store");
    await shot(page, "16a-draft-renamed");
    // Validation: each problem is listed and a click zooms to it and selects the grid.
    const v = (await apiCall(page, `/plans/${draft.id}/validation`)).body;
    await page.waitForSelector("#ws-validation details", { timeout: 30000 });
    const kinds = await page.$$eval("#ws-validation > li[data-key]", (ls) => ls.map((l) => [l.dataset.key, l.querySelector("summary b").textContent.replace(/,/g, "")]));
    for (const [k, n] of kinds) assert(Number(n) === v.summary[k], `validation ${k}: ${n} = ${v.summary[k]}`);
    const firstKind = kinds.find(([k]) => !["gaps", "overlaps"].includes(k));
    if (firstKind) {
      await page.click(`#val-${firstKind[0]} summary`);
      const button = await page.$(`#val-${firstKind[0]} [data-grid]`);
      const gridId = Number(await button.getAttribute("data-grid"));
      await button.click();
      await page.waitForFunction((id) => window.gp.workspace.selected.includes(id) && window.gp.workspace.info && window.gp.workspace.info.staff !== null, gridId, { timeout: 30000 });
      const listedCode = (v[firstKind[0]].find((x) => x.grid_id === gridId) || {}).code;
      assert(await page.evaluate(() => window.gp.workspace.info.code) === listedCode, `clicking a ${firstKind[0]} problem selects grid ${listedCode}`);
      await shot(page, "16a2-validation-problem");
    }
    assert(await page.isVisible("#val-balance"), "the balance table per community is shown");
    await page.click("#ws-delete");
    await page.click("#confirm-ok");
    await page.waitForFunction((id) => window.gp.workspace.plan && window.gp.workspace.plan.id !== id, draft.id, { timeout: 30000 });
    assert((await apiCall(page, `/plans/${draft.id}`)).status === 404, "the deleted draft is gone from the store");
    assert(!(await page.$$eval("#ws-plan option", (os) => os.map((o) => o.value))).includes(String(draft.id)), "and from the list");
    // The search box: a community by part of its name, then a grid by its code (selected in the workspace).
    const comm = (await apiCall(page, "/districts")).body[0].streets[1].communities[0];
    await page.fill("#search", comm.name.slice(0, 3));
    await page.waitForSelector("#search-hit-0");
    const listed = await page.$$eval("#search-results li", (ls) => ls.map((l) => l.textContent));
    assert(listed.some((l) => l.includes(comm.name) && l.includes("社区")), `the community is found by part of its name: ${listed.join(" | ")}`);
    const at = listed.findIndex((l) => l.includes(comm.code));
    await page.click(`#search-hit-${at}`);
    const inView = async (bbox) => page.evaluate(([w, s, e, n]) => { const c = window.gp.map.getCenter(); return c.lng >= w && c.lng <= e && c.lat >= s && c.lat <= n; }, bbox);
    const hitComm = await page.evaluate(() => window.gp.search.last);
    assert(hitComm.code === comm.code && await inView(hitComm.bbox), "the map is zoomed to the community");
    await shot(page, "16b-search-community");
    const grid = (await apiCall(page, `/grids?community=${comm.code}&limit=1`)).body.features[0].properties.code;
    await page.fill("#search", grid);
    await page.waitForFunction((g) => window.gp.search.hits.some((h) => h.code === g) && document.querySelector("#search-hit-0"), grid);
    await page.press("#search", "Enter");
    await page.waitForFunction((g) => window.gp.workspace.info?.code === g, grid, { timeout: 30000 });
    assert(await inView((await page.evaluate(() => window.gp.search.last)).bbox), "the map is zoomed to the grid, and it is selected");
    await shot(page, "16c-search-grid");
    await context.close();
  },

  async publish(browser) {
    if (!state.planId) throw new Skip("no draft");
    const { page, context } = await newPage(browser);
    await login(page, "admin");
    await page.waitForSelector("#ws-panel:not([hidden])");
    await page.waitForFunction((id) => window.gp.workspace.plan?.id === id, state.planId);
    await page.click("#ws-diff");
    await page.waitForSelector("#ws-diff-box #diff-summary");
    await mapIdle(page);
    await shot(page, "15-diff");
    await page.click("#ws-publish");
    await page.waitForSelector("#confirm-dialog[open] #diff-summary");
    const summary = await page.textContent("#confirm-dialog #diff-summary");
    assert(summary.includes("新增编码") || summary.includes("保留编码"), `the publish dialog summarises code changes: ${summary}`);
    await shot(page, "16-publish-confirm");
    // While the admin reads the summary, a planner edits the draft: publishing what nobody reviewed is refused.
    const other = await newPage(browser);
    await login(other.page, "planner2");
    const lock = (await apiCall(other.page, `/plans/${state.planId}`)).body.lock_version;
    const theirs = await apiCall(other.page, `/plans/${state.planId}/undo`, "POST", { lock_version: lock });
    assert(theirs.status === 200, `the other planner's undo went through: ${JSON.stringify(theirs.body)}`);
    await other.context.close();
    await page.click("#confirm-ok");
    await page.waitForSelector("#ws-message.msg.ok, #ws-message.msg.err", { timeout: 60000 });
    const refused = await page.textContent("#ws-message");
    assert(await page.isVisible("#ws-message.msg.err") && refused.includes("其他规划员") && refused.includes("未发布"), `a stale publish is refused with a clear message: ${refused}`);
    assert((await apiCall(page, `/plans/${state.planId}`)).body.status === "draft", "nothing was published");
    assert(await page.evaluate((v) => window.gp.workspace.plan.lock_version === v, theirs.body.lock_version), "the plan was reloaded");
    await shot(page, "16b-publish-conflict");
    await page.evaluate(() => { window.gp.workspace.message = null; window.gp.workspace.renderMessage(); });
    await page.click("#ws-publish");
    await page.waitForSelector("#confirm-dialog[open] #diff-summary");
    await page.click("#confirm-ok");
    await page.waitForSelector("#ws-message.msg.ok, #ws-message.msg.err", { timeout: 60000 });
    assert(await page.isVisible("#ws-message.msg.ok"), `published: ${await page.textContent("#ws-message")}`);
    const plans = (await apiCall(page, "/plans")).body;
    assert(plans.find((p) => p.id === state.planId).status === "published", "the draft is now the published plan");
    await mapIdle(page);
    await shot(page, "17-published");
    await context.close();
  },
};

async function main() {
  const wanted = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS, headless: true });
  const t0 = Date.now();
  try {
    for (const [name, fn] of Object.entries(steps)) {
      if (wanted.length && !wanted.includes(name)) continue;
      const t = Date.now();
      try { await fn(browser); results.push(`ok ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`); }
      catch (e) {
        results.push(e instanceof Skip ? `skip ${name}: ${e.message}` : `FAIL ${name}: ${e.stack || e.message}`);
        if (state.page && !(e instanceof Skip)) await shot(state.page, `FAIL-${name}`).catch(() => {});
      }
      console.log(results[results.length - 1]);
    }
  } finally { await browser.close(); }
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(results.some((r) => r.startsWith("FAIL")) ? 1 : 0);
}

main();
