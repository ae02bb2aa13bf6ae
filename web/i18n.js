// Chinese by default; English on request (remembered in localStorage).
export const STRINGS = {
  zh: {
    title: "网格规划", checking: "检查中…", healthy: "服务正常", unhealthy: "数据库不可用", overview: "概况",
    communities: "社区", apiDocs: "API 文档", switchTo: "English", nCommunities: "社区数", nHouseholds: "户数",
    nBuildings: "楼栋数", households: "户", nGrids: "网格数", noCode: "未编码", buildingsUnit: "栋", basic: "基础网格", dedicated: "专属网格", urban: "城镇", rural: "农村", area: "面积",
  },
  en: {
    title: "Gridplanner", checking: "checking…", healthy: "service ok", unhealthy: "database unavailable", overview: "Overview",
    communities: "Communities", apiDocs: "API docs", switchTo: "中文", nCommunities: "Communities", nHouseholds: "Households",
    nBuildings: "Buildings", households: "households", nGrids: "Grids", noCode: "no code", buildingsUnit: "buildings", basic: "basic grid", dedicated: "dedicated grid", urban: "urban", rural: "rural", area: "Area",
  },
};

let lang = localStorage.getItem("gridplanner.lang") || "zh";

export function t(key) { return (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.zh[key] || key; }
export function currentLang() { return lang; }
export function setLang(next) {
  lang = next;
  localStorage.setItem("gridplanner.lang", next);
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
}
