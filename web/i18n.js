// Every visible string goes through t(): Chinese by default, English on request (remembered in localStorage).
export const STRINGS = {
  zh: {
    title: "网格规划", switchTo: "English", login: "登录", logout: "退出", username: "用户名", password: "密码",
    loginFailed: "用户名或密码错误", loginTitle: "网格化服务管理平台", workspace: "规划工作台", dashboard: "领导驾驶舱",
    settings: "设置", apiDocs: "API 文档", role_admin: "管理员", role_planner: "规划员", role_viewer: "查看者",
    district: "区县", street: "街道/乡镇", community: "社区/村", all: "全部", plan: "方案", newDraft: "新建草稿",
    published: "已发布", draft: "草稿", archived: "已归档", version: "版本", tools: "编辑工具",
    tool_select: "选择", tool_split: "拆分", tool_merge: "合并", tool_reshape: "调整边界", tool_move: "移动楼栋",
    tool_replan: "重新划分", undo: "撤销", redo: "重做", validation: "校验", diff: "对比已发布", publish: "发布",
    help_select: "点击网格查看详情。", help_split: "点击要拆分的网格，再在地图上逐点画线穿过它，双击结束。",
    help_merge: "依次点击要合并的相邻网格（可多选），再点“合并所选”。",
    help_reshape: "先点击一个网格，再点击相邻网格，然后画出新的公共边界（首尾自动吸附到顶点），双击结束。",
    help_move: "输入楼栋编号（逗号分隔），再点击目标网格。", help_replan: "按社区重新自动划分网格。",
    mergeSelected: "合并所选", applyLine: "应用画线", clearLine: "清除画线", buildingIds: "楼栋编号",
    minHh: "最少户数", maxHh: "最多户数", runReplan: "重新划分", gridInfo: "网格信息", code: "编码",
    households: "户数", buildings: "楼栋", staff: "网格员", openIncidents: "未结事件", sizeStatus: "规模",
    size_under: "偏小", size_within: "适中", size_over: "偏大", size_dedicated: "专属网格", noSelection: "未选择网格",
    needDraft: "请先新建或选择一个草稿方案。", needGrid: "请先选择网格。", needNeighbour: "请再点击相邻网格。",
    drawing: "画线中：单击加点，双击结束。", editDone: "已完成编辑", changed: "变更", removed: "删除",
    conflict: "该方案已被其他规划员修改（当前版本 {v}）。已重新载入最新方案，您画的线仍保留，可检查后点“应用画线”重试。",
    conflictNoLine: "该方案已被其他规划员修改（当前版本 {v}）。已重新载入最新方案，请重试。",
    error: "操作失败", gaps: "缝隙", overlaps: "重叠", out_of_bounds: "规模超限", crossing: "跨社区", invalid: "无效几何", codesKept: "保留编码", codesNew: "新增编码", codesRetired: "撤销编码",
    validationOk: "校验通过：无缝隙、重叠、超限或跨社区网格。", diffNone: "与已发布方案相同。",
    added: "新增网格", changedGrids: "调整网格", removedGrids: "删除网格", unchanged: "未变网格",
    publishConfirm: "确认发布此草稿？编码变化：", publishDone: "方案已发布", cancel: "取消", confirm: "确认",
    lockVersion: "修订号", legend: "图例", figures: "概况", grids: "网格数", staffCount: "网格员",
    staffingGaps: "缺员网格", openInc: "未结事件", overdueInc: "超期事件", category: "事件类别", status: "事件状态",
    from: "起始日期", to: "截止日期", badDateRange: "起始日期晚于截止日期，未应用；其余筛选和数字不变。", layer: "专题图", layer_households: "网格户数", layer_staffing: "配备情况",
    layer_incidents: "网格事件", layer_heat: "事件热力", export: "导出", exportCsv: "概况 CSV",
    exportCompliance: "配备情况 XLSX", exportRoster: "网格员名册 CSV", staff_complete: "配齐",
    staff_incomplete: "缺员", staff_unstaffed: "无人员", inc_none: "无符合条件的事件", inc_open: "有未结事件",
    inc_overdue: "有超期事件", heat_low: "少", heat_high: "多", baseMap: "底图", baseMapBlank: "空白底图（仅边界）",
    baseMapUrl: "瓦片地址模板（XYZ 或 WMTS，{z}/{x}/{y}）", baseMapKey: "密钥（替换 {key}）", baseMapLabels: "注记图层地址（可选）",
    tianditu: "天地图预设", save: "保存", close: "关闭", loading: "加载中…", noAccess: "查看者只能浏览驾驶舱。",
    editsDisabled: "当前方案不是草稿，不能编辑。", user: "用户", reloadPlan: "重新载入",
    staff_full: "配齐", publishInvalid: "注意：草稿校验未通过（有缝隙、重叠、跨社区或无效几何），建议先修正再发布。",
    conflictPublish: "发布前该方案已被其他规划员修改（当前版本 {v}），未发布。已重新载入最新方案，请检查对比后再发布。", unitBuildings: "栋", unitHouseholds: "户", matchingInc: "符合筛选的事件", staff_overloaded: "超负荷", staff_short: "缺员", staff_unknown: "无配备数据", inc_closed: "仅有已结事件",
    filters: "筛选", figuresNote: "网格、户数和网格员随街道/社区筛选；事件数另随类别、状态和时间筛选，与地图一致。",
    exportNote: "概况 CSV 按当前筛选导出；配备情况 XLSX 和名册为全部网格。",
    unstaffed: "缺网格长或专职网格员", noLeaderOrFulltime: "无网格长或专职网格员", outsideCommunity: "在社区外", balance: "各社区均衡度",
    meanHh: "平均户数", maxDev: "最大偏差",
    searchPlaceholder: "搜索网格编码、社区、街道或楼栋", searchNone: "没有找到", kind_grid: "网格", kind_community: "社区", kind_street: "街道", kind_building: "楼栋",
    rename: "重命名", deleteDraft: "删除草稿", renamePrompt: "方案的新名称：", renamed: "已重命名", deleteConfirm: "确认删除草稿（其网格和编辑记录一并删除）：",
    deleted: "草稿已删除", publishAdminOnly: "只有管理员可以发布方案；请把草稿交给管理员审定发布。",
    charts: "统计图表", chart_time: "事件趋势", chart_category: "事件类别", chart_ranking_street: "街道事件排名",
    chart_ranking_community: "社区事件排名", chart_staffing: "社区网格配备达标率", reported: "上报", closedInc: "已结案",
    closure_rate: "结案率", overdue_rate: "超期率", compliance: "配齐网格占比", chartsEmpty: "当前筛选下没有事件。",
    chartsNote: "图表随筛选变化；点击类别或街道/社区的柱子即按其筛选。",
    help_move2: "点击楼栋选中或取消（按住 Shift 拖动可框选），再点击目标网格，最后点“移动楼栋”。服务器检查拓扑。",
    buildingsSelected: "已选楼栋", targetGrid: "目标网格", moveApply: "移动楼栋", clearSelection: "清除选择",
    zoomInBuildings: "请放大地图以显示楼栋。", buildingsTruncated: "楼栋太多，只显示了一部分，请放大。", carried: "随迁楼栋",
    needBuildings: "请先点击要移动的楼栋。", needTarget: "请点击目标网格。", gridsMade: "生成网格", planRule: "方案规则",
    needCommunity: "请先在上方选择社区。", keptSelection: "您的选择已保留，可直接重试。", conflictTitle: "编辑冲突",
    legendBuildings: "楼栋", legendSelectedBuildings: "已选楼栋", legendTarget: "所选/目标网格", replanConfirm: "重新自动划分该社区的全部网格？（可撤销）",
  },
  en: {
    title: "Gridplanner", switchTo: "中文", login: "Log in", logout: "Log out", username: "User name", password: "Password",
    loginFailed: "Wrong user name or password", loginTitle: "Community grid management", workspace: "Planner workspace",
    dashboard: "Dashboard", settings: "Settings", apiDocs: "API docs", role_admin: "administrator", role_planner: "planner",
    role_viewer: "viewer", district: "District", street: "Street / township", community: "Community / village", all: "All",
    plan: "Plan", newDraft: "New draft", published: "published", draft: "draft", archived: "archived", version: "version",
    tools: "Editing tools", tool_select: "Select", tool_split: "Split", tool_merge: "Merge", tool_reshape: "Reshape",
    tool_move: "Move buildings", tool_replan: "Re-plan", undo: "Undo", redo: "Redo", validation: "Validation",
    diff: "Diff vs published", publish: "Publish", help_select: "Click a grid for its details.",
    help_split: "Click the grid to split, then click points of a line across it; double-click to finish.",
    help_merge: "Click adjacent grids to merge (several), then “Merge selected”.",
    help_reshape: "Click a grid, then its neighbour, then draw the new shared boundary (ends snap to vertices); double-click to finish.",
    help_move: "Enter building ids (comma-separated), then click the target grid.", help_replan: "Re-run the automatic plan for a community.",
    mergeSelected: "Merge selected", applyLine: "Apply line", clearLine: "Clear line", buildingIds: "Building ids",
    minHh: "Min households", maxHh: "Max households", runReplan: "Re-plan", gridInfo: "Grid", code: "Code",
    households: "Households", buildings: "Buildings", staff: "Staff", openIncidents: "Open incidents", sizeStatus: "Size",
    size_under: "too small", size_within: "within rule", size_over: "too large", size_dedicated: "dedicated",
    noSelection: "No grid selected", needDraft: "Create or choose a draft plan first.", needGrid: "Select a grid first.",
    needNeighbour: "Now click the neighbouring grid.", drawing: "Drawing: click to add points, double-click to finish.",
    editDone: "Edit done", changed: "changed", removed: "removed",
    conflict: "Another planner changed this plan (now revision {v}). The latest plan is reloaded; your line is kept — check it and press “Apply line” to retry.",
    conflictNoLine: "Another planner changed this plan (now revision {v}). The latest plan is reloaded; please retry.",
    error: "Failed", gaps: "gaps", overlaps: "overlaps", out_of_bounds: "size out of bounds", crossing: "crossing a community", invalid: "invalid geometry", codesKept: "codes kept", codesNew: "new codes", codesRetired: "codes retired",
    validationOk: "Valid: no gaps, overlaps, out-of-bounds or crossing grids.", diffNone: "Same as the published plan.",
    added: "grids added", changedGrids: "grids changed", removedGrids: "grids removed", unchanged: "grids unchanged",
    publishConfirm: "Publish this draft? Code changes:", publishDone: "Plan published", cancel: "Cancel", confirm: "Confirm",
    lockVersion: "revision", legend: "Legend", figures: "Headline figures", grids: "Grids", staffCount: "Staff",
    staffingGaps: "Understaffed grids", openInc: "Open incidents", overdueInc: "Overdue incidents", category: "Category",
    status: "Status", from: "From", to: "To", badDateRange: "The start date is after the end date: not applied; the other filters and figures are unchanged.", layer: "Map", layer_households: "Households per grid",
    layer_staffing: "Staffing status", layer_incidents: "Incidents per grid", layer_heat: "Incident heatmap",
    export: "Export", exportCsv: "Figures CSV", exportCompliance: "Staffing XLSX", exportRoster: "Roster CSV",
    staff_complete: "complete", staff_incomplete: "incomplete", staff_unstaffed: "unstaffed", inc_none: "no matching incidents",
    inc_open: "open incidents", inc_overdue: "overdue incidents", heat_low: "few", heat_high: "many", baseMap: "Base map",
    baseMapBlank: "Blank (boundaries only)", baseMapUrl: "Tile URL template (XYZ or WMTS, {z}/{x}/{y})",
    baseMapKey: "Key (replaces {key})", baseMapLabels: "Labels layer URL (optional)", tianditu: "Tianditu preset",
    save: "Save", close: "Close", loading: "Loading…", noAccess: "Viewers can use the dashboard only.",
    editsDisabled: "This plan is not a draft and cannot be edited.", user: "User", reloadPlan: "Reload",
    staff_full: "fully staffed", publishInvalid: "Note: the draft does not pass validation (gaps, overlaps, crossing or invalid grids); better fix it before publishing.",
    conflictPublish: "Another planner changed this plan before it was published (now revision {v}); nothing was published. The latest plan is reloaded: review the diff and publish again.", unitBuildings: "buildings", unitHouseholds: "households", matchingInc: "Incidents (filtered)", staff_overloaded: "overloaded", staff_short: "short of staff", staff_unknown: "no staffing data", inc_closed: "closed incidents only",
    filters: "Filters", figuresNote: "Grids, households and staff follow the street/community filter; incident counts also follow category, status and time, as the map does.",
    exportNote: "The figures CSV follows the filters; the staffing XLSX and the roster cover every grid.",
    unstaffed: "No grid leader or full-time worker", noLeaderOrFulltime: "no grid leader or full-time worker", outsideCommunity: "outside the community", balance: "Balance per community",
    meanHh: "Mean households", maxDev: "Max deviation",
    searchPlaceholder: "Search a grid code, community, street or building", searchNone: "Nothing found", kind_grid: "Grid", kind_community: "Community", kind_street: "Street", kind_building: "Building",
    rename: "Rename", deleteDraft: "Delete draft", renamePrompt: "The plan's new name:", renamed: "Renamed", deleteConfirm: "Delete the draft (with its grids and edit history): ",
    deleted: "Draft deleted", publishAdminOnly: "Only an admin may publish a plan; hand the draft to an admin to review and publish.",
    charts: "Charts", chart_time: "Incidents over time", chart_category: "By category", chart_ranking_street: "Streets by incidents",
    chart_ranking_community: "Communities by incidents", chart_staffing: "Staffing compliance by community", reported: "Reported", closedInc: "Closed",
    closure_rate: "Closure rate", overdue_rate: "Overdue rate", compliance: "Grids fully staffed", chartsEmpty: "No incidents under these filters.",
    chartsNote: "The charts follow the filters; click a category or a street/community bar to filter by it.",
    help_move2: "Click buildings to select or unselect them (Shift-drag for a box), then click the target grid, then “Move buildings”. The server checks topology.",
    buildingsSelected: "Buildings selected", targetGrid: "Target grid", moveApply: "Move buildings", clearSelection: "Clear selection",
    zoomInBuildings: "Zoom in to see the buildings.", buildingsTruncated: "Too many buildings: only some are shown; zoom in.", carried: "buildings carried along",
    needBuildings: "Click the buildings to move first.", needTarget: "Now click the target grid.", gridsMade: "grids made", planRule: "plan's rule",
    needCommunity: "Choose a community above first.", keptSelection: "Your selection is kept: retry when ready.", conflictTitle: "Edit conflict",
    legendBuildings: "Buildings", legendSelectedBuildings: "Selected buildings", legendTarget: "Selected / target grid", replanConfirm: "Re-plan every grid of this community automatically? (undo is possible)",
  },
};

let lang = localStorage.getItem("gridplanner.lang") || "zh";
const listeners = [];

export function t(key, vars = {}) {
  const s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.zh[key] || key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
}
export function currentLang() { return lang; }
export function onLangChange(fn) { listeners.push(fn); }
export function applyStatic(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
}
export function setLang(next) {
  lang = next;
  localStorage.setItem("gridplanner.lang", next);
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  applyStatic();
  listeners.forEach((fn) => fn());
}
export function fmt(n) { return Number(n || 0).toLocaleString(lang === "zh" ? "zh-CN" : "en-US"); }
