"""Server messages in Chinese (the default) or English, chosen by the request's ``Accept-Language``.

The domain raises its errors in English (the CLI and the logs read them so); :func:`chinese` gives the Chinese
text of each from one catalogue, :data:`CATALOGUE`: an English template (``{}`` where a value goes) and its
Chinese one (``{0}``, ``{1}`` ... in any order). A value that is itself a message is translated too ("moving
620 from grid 3: the new boundary would cut through buildings [620]" reads as one Chinese sentence). A
message not in the catalogue keeps its English after a Chinese lead-in, so nothing is lost; the tests list
every message the code raises and check each has its Chinese text.

>>> chinese("no plan 7")
'没有方案 7'
>>> chinese("moving [620] from grid 3: the buildings are already in grid 3")
'从网格 3 移出 [620]：这些建筑已在网格 3 中'
>>> language("en-US,en;q=0.9"), language("zh-CN,zh;q=0.9,en;q=0.8"), language(None), language("fr")
('en', 'zh', 'zh', 'zh')
"""

from __future__ import annotations

import re
from contextvars import ContextVar, Token
from functools import lru_cache

#: The languages the server speaks; the first is the default.
LANGUAGES = ("zh", "en")
#: Lead-in of a message the catalogue does not have (its English follows).
UNTRANSLATED = "（暂无中文说明）"

CATALOGUE: tuple[tuple[str, str], ...] = (
    # Plans and publishing
    ("no plan {}", "没有方案 {0}"),
    ("no plan with {}", "没有 {0} 的方案"),
    ("no published plan: publish a plan first, or name one with plan=", "还没有发布的方案：请先发布方案，或用 plan= 指定方案"),
    ("no published plan version {}", "没有已发布的方案版本 {0}"),
    ("plan {} has no grids", "方案 {0} 没有网格"),
    ("plan {} has no grid {}", "方案 {0} 中没有网格 {1}"),
    ("plan {} is {}; only a draft can be published", "方案 {0} 的状态是 {1}：只有草稿可以发布"),
    ("plan {} is {}; only an archived (earlier published) plan can be rolled back to", "方案 {0} 的状态是 {1}：只能回退到已归档（曾经发布过）的方案"),
    ("plan {} is {}; only drafts can be changed", "方案 {0} 的状态是 {1}：只有草稿可以修改"),
    ("plan {} is {}; only drafts can be planned", "方案 {0} 的状态是 {1}：只有草稿可以划分"),
    ("plan {} is {}; only drafts can be edited: create a draft from it first", "方案 {0} 的状态是 {1}：只有草稿可以编辑，请先以它为基础新建草稿"),
    ("a plan's name cannot be empty", "方案名称不能为空"),
    ("plan {} is {}; only a draft can be deleted", "方案 {0} 的状态是 {1}：只有草稿可以删除"),
    ("only an admin or the planner who made a draft may rename it; plan {} is {}, made by {}",
     "只有管理员或创建草稿的规划员可以重命名它；方案 {0} 的状态是 {1}，由 {2} 创建"),
    ("only an admin or the planner who made a draft may delete it; plan {} is {}, made by {}",
     "只有管理员或创建草稿的规划员可以删除它；方案 {0} 的状态是 {1}，由 {2} 创建"),
    ("the target grid", "目标网格"),
    ("the buildings' grid", "建筑所在网格"),
    ("there are no communities to plan: import communities first", "没有可划分的社区：请先导入社区"),
    ("there are no communities: import communities first", "没有社区：请先导入社区"),
    ("merging needs at least two department layers in the store, found {}: import them with `gridplanner import layer`",
     "合并至少需要库中有两个部门图层，现有 {0} 个：请用 `gridplanner import layer` 导入"),
    ("merging needs at least two department layers, got {}", "合并至少需要两个部门图层，收到 {0} 个"),
    ("base layer {} is not one of the layers {}", "基准图层 {0} 不在图层 {1} 之中"),
    ("name the plan to roll back to by its version or by its id", "请用版本号或 id 指定要回退到的方案"),
    ("version {} is no longer kept: resynchronise with since_version=0", "版本 {0} 已不再保留：请用 since_version=0 重新同步"),
    ("since_version {} is ahead of the published version {}", "since_version {0} 超过了已发布的版本 {1}"),
    ("unknown communities: {}", "未知的社区：{0}"),
    ("no community {}", "没有社区 {0}"),
    # Grids, codes, lookups
    ("no grid {} in plan {} (version {})", "方案 {1}（版本 {2}）中没有网格 {0}"),
    ("no grid {} in plan {}", "方案 {1} 中没有网格 {0}"),
    ("unknown grid code {}: no grid of the published plan has it", "未知的网格编码 {0}：已发布方案中没有这个网格"),
    ("unknown grid code {}: no plan is published yet", "未知的网格编码 {0}：还没有发布的方案"),
    ("grid code {} was never published: it has no lineage", "网格编码 {0} 从未发布过，没有沿革记录"),
    ("no crosswalk for department {} in plan {}; {}", "方案 {1} 中没有部门 {0} 的对照表；{2}"),
    ("department {} has no grid {} in the crosswalk of plan {}", "方案 {2} 的对照表中，部门 {0} 没有网格 {1}"),
    ("point ({}, {}) is not in China: check the order (lon, lat) and the coordinate system",
     "点 ({0}, {1}) 不在中国境内：请检查经纬度顺序（先经度后纬度）和坐标系"),
    ("({}, {}) is not lon/lat", "({0}, {1}) 不是经纬度"),
    ("at most {} points per request, got {}: split the batch", "每次请求最多 {0} 个点，收到 {1} 个：请分批提交"),
    ("database unavailable, try again shortly", "数据库暂时不可用，请稍后再试"),
    # Starlette's own, for paths and methods no route has.
    ("Not Found", "未找到"),
    ("Method Not Allowed", "不支持此请求方法"),
    ("internal error in Gridplanner (not a problem with your request or data): the traceback is in the server log under {}",
     "网格规划系统内部错误（不是您的请求或数据的问题）：错误详情已记入服务器日志，编号 {0}"),
    ("no grid contains this point", "没有网格包含这个点"),
    ("request body too large: {} bytes or more, the limit is {} bytes (GRIDPLANNER_MAX_UPLOAD_BYTES)",
     "请求体过大：{0} 字节以上，上限为 {1} 字节（GRIDPLANNER_MAX_UPLOAD_BYTES）"),
    ("a value in the request is outside what the store accepts: {}", "请求中有数值超出了数据库可接受的范围：{0}"),
    ("plan {} was changed by someone else since you loaded it (you edited version {}, it is now version {}); reload the plan and redo your edit",
     "方案 {0} 在您载入后已被他人修改（您编辑的是版本 {1}，现在是版本 {2}）；请重新载入方案后再编辑"),
    ("{} was changed by someone else: you edited version {}, it is now version {}; reload and try again",
     "{0} 已被他人修改：您编辑的是版本 {1}，现在是版本 {2}；请重新加载后再试"),
    ("the plan was changed by a concurrent request; reload and try again", "方案已被同时进行的另一请求修改；请重新加载后再试"),
    ("no job {}", "没有任务 {0}"),
    # Map layers
    ("unknown layer {}; layers: {}", "未知的图层 {0}；可用图层：{1}"),
    ("layer {} takes no filter {} (it takes: {})", "图层 {0} 不接受筛选条件 {1}（可用：{2}）"),
    ("layer {} has no status {} (statuses: {})", "图层 {0} 没有状态 {1}（可用状态：{2}）"),
    ("layer {} takes no cell (only incident_density does)", "图层 {0} 不接受 cell 参数（只有 incident_density 接受）"),
    ("no feature {} in layer {} ({})", "图层 {1} 中没有要素 {0}（{2}）"),
    ("give plan or version, not both", "plan 和 version 只能给一个"),
    ("bbox must be four numbers west,south,east,north; got {}", "bbox 应为四个数：西,南,东,北；收到 {0}"),
    ("bbox {} is not west,south,east,north in degrees (west <= east, south <= north)", "bbox {0} 不是以度为单位的 西,南,东,北（西 ≤ 东，南 ≤ 北）"),
    ("give bbox or grid", "请给出 bbox 或 grid"),
    # Dashboard and incidents
    ("time range is empty: start {} is after end {}", "时间范围无效：开始时间 {0} 晚于结束时间 {1}"),
    ("'from' must be before 'to'", "开始时间（from）必须早于结束时间（to）"),
    ("community {} is not in street {}", "社区 {0} 不属于街道 {1}"),
    ("unknown status {}; one of {}", "未知的状态 {0}；可选：{1}"),
    ("unknown status {}; the lifecycle is {}", "未知的状态 {0}；事件流程为 {1}"),
    ("no incident {}", "没有事件 {0}"),
    ("a satisfaction score is a whole number 1-5 given at {}; got {} at {}", "满意度评分须为 1–5 的整数，在「{0}」时给出；收到 {1}（在「{2}」）"),
    ("an incident in {} cannot go to {}; {}", "处于「{0}」的事件不能转到「{1}」；{2}"),
    ("an incident with external id {} exists already", "外部编号为 {0} 的事件已存在"),
    ("unknown incident category {}; the catalogue has {}", "未知的事件类别 {0}；类别目录中有 {1}"),
    ("incident category {} is not in the catalogue; add it before dispatching", "事件类别 {0} 不在类别目录中：请先添加再派遣"),
    ("category name is empty", "类别名称为空"),
    ("time limit must be a positive number of hours, got {}", "时限必须是正的小时数，收到 {0}"),
    ("actor is required: every step records who made it", "必须给出操作人：每一步都记录由谁办理"),
    ("unknown_grid must be 'error' or 'unassign'", "unknown_grid 必须是 'error' 或 'unassign'"),
    # Staff
    ("no staff member {}", "没有网格员 {0}"),
    ("unknown staff field {}", "未知的人员字段 {0}"),
    ("max_households_per_fulltime must be positive", "max_households_per_fulltime 必须为正数"),
    # Access
    ("wrong user name or password", "用户名或密码错误"),
    ("invalid or revoked API key", "API 密钥无效或已吊销"),
    ("authentication required: log in (POST /api/v1/auth/login) or send an API key in X-API-Key",
     "需要登录：请登录（POST /api/v1/auth/login）或在 X-API-Key 中提供 API 密钥"),
    ("this needs the role {}; {} is {}", "此操作需要角色 {0}；{1} 是 {2}"),
    ("this API key lacks the scope {} (it has: {})", "此 API 密钥没有权限范围 {0}（它有：{1}）"),
    ("this API key has the scope {}: it may call the lookups only ({}, {}/codes/...)",
     "此 API 密钥的权限范围是 {0}：只能调用查询接口（{1}、{2}/codes/...）"),
    ("API keys are read-only: log in as a user to change anything", "API 密钥只读：要修改数据请以用户身份登录"),
    ("{} is a {}: read-only but for acknowledging and completing their grid's tasks", "{0} 是{1}：只读，只能签收和完成本网格的任务"),
    ("{} is a {}: read-only", "{0} 是{1}：只读"),
    ("{} is a {}: read-only{}", "{0} 是{1}：只读{2}"),
    ("only an admin may change this; {} is {}", "只有管理员可以修改；{0} 是 {1}"),
    ("only an admin may {} a plan; {} is a {}", "只有管理员可以{0}方案；{1} 是{2}"),
    ("a planner must name the communities to plan (all of them in {})", "规划员必须指定要划分的社区（都须在 {0} 之内）"),
    ("a password needs at least {} characters", "密码至少需要 {0} 个字符"),
    ("too many requests for {}: the limit is {} a second (bursts of {}); retry in {} s",
     "{0} 的请求过于频繁：上限为每秒 {1} 次（突发 {2} 次）；请在 {3} 秒后重试"),
    ("too many features in one request: {}, the limit is {} (GRIDPLANNER_MAX_FEATURES_PER_REQUEST); send them in several requests",
     "一次请求的要素过多：{0} 个，上限为 {1}（GRIDPLANNER_MAX_FEATURES_PER_REQUEST）；请分几次发送"),
    ("too many vertices in one request: {}, the limit is {} (GRIDPLANNER_MAX_VERTICES_PER_REQUEST); simplify or split the geometry",
     "一次请求的顶点过多：{0} 个，上限为 {1}（GRIDPLANNER_MAX_VERTICES_PER_REQUEST）；请简化或拆分几何"),
    ("If-Match must name the lock_version you read, e.g. If-Match: \"3\"; got {}", "If-Match 必须给出读到的 lock_version，例如 If-Match: \"3\"；收到 {0}"),
    # Editing
    ("moving {} from grid {}: {}", "从网格 {1} 移出 {0}：{2}"),
    ("{} (grid ids in order: {})", "{0}（网格 id 依次为：{1}）"),
    ("a grid is not its own neighbour: name two different grids", "网格不能与自己相邻：请指定两个不同的网格"),
    ("both grids must be single polygons", "两个网格都必须是单个多边形"),
    ("building {} lies in no single grid of plan {} (no grid holds most of it)", "建筑 {0} 不在方案 {1} 的任何一个网格中（没有网格包含它的大部分）"),
    ("building(s) {} are in community {}, grid {} in {}; a grid stays inside one community",
     "建筑 {0} 属于社区 {1}，网格 {2} 属于 {3}；网格不能跨社区"),
    ("grid {} would reach {} m² outside its community {}; keep the boundary inside the community",
     "网格 {0} 将超出其社区 {2} {1} 平方米；请把边界留在社区之内"),
    ("merging needs at least two different grids", "合并至少需要两个不同的网格"),
    ("merging needs at least two grids", "合并至少需要两个网格"),
    ("name at least one building to move", "请至少指定一栋要移动的建筑"),
    ("no building {}", "没有建筑 {0}"),
    ("no buildings to move", "没有要移动的建筑"),
    ("only a single polygon can be split", "只能拆分单个多边形"),
    ("the buildings are already in grid {}", "这些建筑已在网格 {0} 中"),
    ("the buildings cannot be handed over without cutting other buildings; reshape the boundary by hand",
     "移交这些建筑会切开其他建筑；请手工调整边界"),
    ("the buildings' grid and the target grid are not neighbours: they share no boundary", "建筑所在网格与目标网格不相邻：没有共同边界"),
    ("the edit would leave a grid in pieces; a grid must be one polygon", "此编辑会使网格分成几块；网格必须是一个多边形"),
    ("the edit would leave a grid thinner than a centimetre: draw it wider", "此编辑会使网格窄于一厘米：请画宽一些"),
    ("the grids are not all adjacent (sharing an edge): they form {} separate groups {}", "这些网格并不都相邻（共用边）：它们分成 {0} 组 {1}"),
    ("the grids belong to different communities ({}); a grid stays inside one community", "这些网格属于不同社区（{0}）；网格不能跨社区"),
    ("the line collapses to a point after snapping: draw it longer", "吸附后线缩成了一个点：请画长一些"),
    ("the line cuts the grid into {} pieces; a split makes two, so cross the grid once", "这条线把网格切成 {0} 块；拆分只能分成两块，请只穿过网格一次"),
    ("the line does not cross the grid: draw it from one side of the grid to the other", "这条线没有穿过网格：请从网格一侧画到另一侧"),
    ("the line does not touch the grid", "这条线没有接触网格"),
    ("the line needs at least two distinct points", "线至少需要两个不同的点"),
    ("the new boundary divides the two grids into {} pieces; draw it across them from edge to edge (ends within {} of a corner or beyond the edge) so it makes exactly two",
     "新边界把两个网格分成了 {0} 块；请从边到边画过它们（端点在角点 {1} 以内或越过边界），正好分成两块"),
    ("the new boundary would cut through buildings {}; draw it around them", "新边界会切开建筑 {0}；请绕开它们画"),
    ("the reshaped grids do not cover exactly what the two grids covered", "调整后的网格与原来两个网格覆盖的范围不一致"),
    ("the two grids are not neighbours: they share no boundary", "这两个网格不相邻：没有共同边界"),
    ("{} would fall into {} pieces; a grid must be one polygon", "{0} 会分成 {1} 块；网格必须是一个多边形"),
    ("{} would be empty", "{0} 会变成空的"),
    ("{} would have no area", "{0} 会没有面积"),
    # Size rules and coding
    ("household bounds must be positive, got min={}, max={}", "户数上下限必须为正数，收到 min={0}，max={1}"),
    ("min households ({}) is greater than max households ({})", "最少户数（{0}）大于最多户数（{1}）"),
    ("min_households ({}) is greater than max_households ({})", "min_households（{0}）大于 max_households（{1}）"),
    ("rural_min_households is greater than rural_max_households", "rural_min_households 大于 rural_max_households"),
    ("target households ({}) must lie between min ({}) and max ({})", "目标户数（{0}）必须在最少（{1}）与最多（{2}）之间"),
    ("{} must not be negative, got {}", "{0} 不能为负数，收到 {1}"),
    ("unknown coding rule {}: use default, cjt349 or a template such as '{community}{seq:03}'",
     "未知的编码规则 {0}：请用 default、cjt349 或模板，例如 '{community}{seq:03}'"),
    ("rule cjt349 needs the 6-digit management/service object class (CJ/T 348): set object=NNNNNN",
     "规则 cjt349 需要 6 位管理/服务对象分类代码（CJ/T 348）：请设置 object=NNNNNN"),
    ("rule {}: constant {}={} must be {} letters or digits", "规则 {0}：常量 {1}={2} 必须是 {3} 位字母或数字"),
    ("rule {}: template {} needs constant(s) {}, e.g. --set {}=...", "规则 {0}：模板 {1} 需要常量 {2}，例如 --set {3}=..."),
    ("rule {}: type code of {} must be {} characters", "规则 {0}：{1} 的类型码必须是 {2} 个字符"),
    ("rule {}: {} range {}–{} does not fit {} sequence digits", "规则 {0}：{1} 的范围 {2}–{3} 超出了 {4} 位顺序码"),
    ("length must be 6, 9 or 12", "长度必须是 6、9 或 12 位"),
    ("by must be 'grid' or 'community'", "by 必须是 'grid' 或 'community'"),
    ("iou must be in (0, 1], got {}", "iou 必须在 (0, 1] 之间，收到 {0}"),
    ("row_height must be positive, got {}", "row_height 必须为正数，收到 {0}"),
    ("field mapping {} is not of the form ours=theirs", "字段对应 {0} 不是 ours=theirs 的形式"),
    ("unknown import kind {}; choose one of {}", "未知的导入类型 {0}；可选：{1}"),
    ("give either a scheduler address or a number of workers", "请给出调度器地址或工作进程数，二者选一"),
    ("workers must be at least 1, not {}", "工作进程数至少为 1，而不是 {0}"),
    ("give --workers or --scheduler, not both", "--workers 和 --scheduler 只能给一个"),
    # Accounts and keys
    ("user name {}: 1-64 letters, digits, '.', '@', '-' or '_'", "用户名 {0}：须为 1–64 个字母、数字或 '.'、'@'、'-'、'_'"),
    ("role {}: one of {}", "角色 {0}：应为 {1} 之一"),
    ("district codes are 6 digits (GB/T 2260): {}", "区县代码应为 6 位数字（GB/T 2260）：{0}"),
    ("a planner needs at least one district (--district 330106)", "规划员至少需要一个区县（--district 330106）"),
    ("a staff account needs --staff-id (the roster row), and only a staff account has one",
     "网格员账号需要 --staff-id（花名册中的一行），且只有网格员账号才有"),
    ("user {} exists already", "用户 {0} 已存在"),
    ("no user {}", "没有用户 {0}"),
    ("scopes: one or more of {} (keys never write, but for filing Open311 requests with open311); got {}",
     "权限范围：应为 {0} 中的一个或多个（密钥从不写数据，只有 open311 可以提交 Open311 请求）；收到 {1}"),
    ("no active API key {}", "没有有效的 API 密钥 {0}"),
    ("a department account needs --department (the department's name in the catalogue of grid items), and only a department account has one",
     "部门账号需要 --department（网格事项清单中的部门名称），且只有部门账号才有"),
    ("no grid item is owned by {}; departments of the catalogue: {}", "网格事项清单中没有属于 {0} 的事项；清单中的部门：{1}"),
    ("{} is a department account: it reads its escalations ({}/escalations) and the catalogue of grid items only",
     "{0} 是部门账号：只能查看本部门的吹哨报到（{1}/escalations）和网格事项清单"),
    ("{} ({}) may not edit district {}", "{0}（{1}）无权编辑区县 {2}"),
    ("API keys are read-only", "API 密钥只读"),
    # Files and fields
    ("{}: {} problems", "{0}：{1} 处问题"),
    ("{}: {} problem(s), nothing was imported", "{0}：{1} 处问题，未导入任何内容"),
    ("has no CRS; give one with --crs", "没有坐标系；请用 --crs 指定"),
    ("has no CRS", "没有坐标系"),
    ("has no {} field (fields: {}); name it with --code-field", "没有 {0} 字段（现有字段：{1}）；请用 --code-field 指定"),
    ("has no {} field (the grid's 12-digit community code)", "没有 {0} 字段（网格所属社区的 12 位代码）"),
    ("has no field {} (fields: {})", "没有字段 {0}（现有字段：{1}）"),
    ("has no {} field", "没有 {0} 字段"),
    ("{} values repeat: {}", "{0} 的值有重复：{1}"),
    ("contains no features", "不含任何要素"),
    ("no kind field for dedicated areas (one of {}); name it with --field kind=COLUMN",
     "专属区域没有类别字段（应为 {0} 之一）；请用 --field kind=列名 指定"),
    ("id field {} not found (columns: {})", "找不到编号字段 {0}（现有列：{1}）"),
    # Codes
    ("malformed code {}: {}", "编码 {0} 格式不对：{1}"),
    ("code template {} at character {}: {}", "编码模板 {0} 第 {1} 个字符处：{2}"),
    ("code template {}: {}", "编码模板 {0}：{1}"),
    ("code {}: {}", "编码 {0}：{1}"),
    ("grid code {} was retired in version {}; it became {}", "网格编码 {0} 已在版本 {1} 停用，改为 {2}"),
    ("grid code {} was retired in version {} with no successor", "网格编码 {0} 已在版本 {1} 停用，没有后继网格"),
    ("departments with a crosswalk there: {}", "该方案有对照表的部门：{0}"),
    ("that plan has no crosswalk (it was not made by merging department layers)", "该方案没有对照表（它不是由合并部门图层生成的）"),
    ("no {} sequence left: {}–{} have all been used (retired codes are never reused)",
     "没有可用的{0}顺序码：{1}–{2} 已全部用过（停用的编码不再使用）"),
    ("community part {}: {}", "社区部分 {0}：{1}"),
    ("township part {} is outside 001–599 (街道 001–099, 镇 100–199, 乡 200–399, other 400–599)",
     "乡级部分 {0} 超出 001–599（街道 001–099，镇 100–199，乡 200–399，其他 400–599）"),
    ("community part {} is outside 居委会 001–199 / 村委会 200–399", "村级部分 {0} 超出 居委会 001–199 / 村委会 200–399"),
    ("{} must be a string of {} digits, not {}", "{0} 应为 {1} 位数字的字符串，而不是 {2}"),
    ("{} must be {} digits", "{0} 应为 {1} 位数字"),
    ("province part {} is not a GB/T 2260 province", "省级部分 {0} 不是 GB/T 2260 中的省份"),
    ("prefecture part is 00: this is a province code, not a county", "地级部分为 00：这是省级代码，不是区县代码"),
    ("county part is 00: this is a prefecture code, not a county", "县级部分为 00：这是地级代码，不是区县代码"),
    ("township part 000 is not a township", "乡级部分 000 不是乡镇街道"),
    ("community part 000 is not a community", "村级部分 000 不是社区或村"),
    ("a division code has 6 (county), 9 (township) or 12 (community) digits", "区划代码应为 6 位（区县）、9 位（乡镇街道）或 12 位（社区/村）"),
    ("a community code must be 12 digits (6 county + 3 township + 3 community)", "社区代码应为 12 位（6 位区县 + 3 位乡镇街道 + 3 位社区/村）"),
    ("sequence {} is in no range (basic {}–{}, dedicated {}–{})", "顺序码 {0} 不在任何范围内（基础网格 {1}–{2}，专属网格 {3}–{4}）"),
    ("unknown grid type; use one of {}", "未知的网格类型；应为 {0} 之一"),
    ("a code must be text", "编码必须是文本"),
    ("{} part {} is not the rule's {}", "{0} 部分 {1} 不是规则规定的 {2}"),
    ("type part {} is none of {}", "类型部分 {0} 不是 {1} 中的任何一个"),
    ("sequence {} is outside {} range {}–{}", "顺序码 {0} 超出{1}范围 {2}–{3}"),
    ("is a division code, not a grid code of rule {} ({})", "是区划代码，不是规则 {0}（{1}）的网格编码"),
    ("empty field name", "字段名为空"),
    ("bad field name {} (letters, digits and _ only)", "字段名 {0} 不合法（只能用字母、数字和 _）"),
    ("{{}} is {} digits wide, not {}", "{{0}} 的宽度是 {1} 位，而不是 {2}"),
    ("{seq} wider than 9 digits is not supported", "不支持超过 9 位的 {seq}"),
    ("empty template", "模板为空"),
    ("no {seq} field: grids of a community could not be told apart", "模板中没有 {seq} 字段：同一社区的网格无法区分"),
    ("{community} already holds county, township and village; do not repeat them", "{community} 已包含区县、乡镇和村，请勿重复"),
    ("a grid code must be text", "网格编码必须是文本"),
    ("does not fit the template {} ({} characters: {})", "不符合模板 {0}（{1} 个字符：{2}）"),
    ("width of {{}} must be a number, e.g. {{}:3}", "{{0}} 的宽度必须是数字，例如 {{1}:3}"),
    ("width of {{}} must be at least 1", "{{0}} 的宽度至少为 1"),
    ("'}' without a matching '{'", "'}' 没有对应的 '{'"),
    ("'{' is never closed", "'{' 没有闭合"),
    ("'{' inside a field", "字段内出现了 '{'"),
    ("field {} appears twice", "字段 {0} 出现了两次"),
    ("constant field {{}} needs a width, e.g. {{}:6}", "常量字段 {{0}} 需要宽度，例如 {{1}:6}"),
    ("sequence does not fit {} digits of template {}", "顺序码超出模板 {1} 的 {0} 位"),
    ("{} must be {} characters for template {}", "模板 {2} 要求 {0} 为 {1} 个字符"),
    # Editing history
    ("plan {} has no edit to undo", "方案 {0} 没有可撤销的编辑"),
    ("plan {} has no undone edit to redo", "方案 {0} 没有可重做的编辑"),
    ("cannot {} the {} of edit {}: its grids were changed since outside the editor (re-planned or merged as a whole)",
     "无法{0}编辑 {2} 的{1}：其网格此后在编辑器之外被修改过（整体重新划分或合并）"),
    # Staff roster
    ("{} is stored as a number in the sheet; format the column as text", "{0} 在表格中存成了数字；请把该列设为文本格式"),
    ("phone is missing", "缺少电话"),
    ("phone {} is not a mainland mobile number (11 digits, 1[3-9]…)", "电话 {0} 不是大陆手机号（11 位，1[3-9]…）"),
    ("phone {} is neither a mainland mobile number (1[3-9] + 9 digits) nor a landline (0 + area code + 7–8 digits)",
     "电话 {0} 既不是大陆手机号（1[3-9] + 9 位）也不是固定电话（0 + 区号 + 7–8 位）"),
    ("ID number must be 18 characters (17 digits and a digit or X), got {} characters", "身份证号应为 18 位（17 位数字加一位数字或 X），实际 {0} 位"),
    ("ID number check digit is wrong (GB 11643)", "身份证号校验位错误（GB 11643）"),
    ("ID number has an impossible birth date {}", "身份证号中的出生日期 {0} 不存在"),
    ("role {} is not one of {}", "角色 {0} 不是 {1} 之一"),
    ("name is missing", "缺少姓名"),
    ("name is {} characters long (at most 50)", "姓名长 {0} 个字符（最多 50）"),
    # Last: a bare "plan N" (a value inside other messages); anything longer matched above.
    ("plan {}", "方案 {0}"),
)


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[re.Pattern, str], ...]:
    out = []
    for en, zh in CATALOGUE:
        parts = en.split("{}")
        pattern = "^" + "(.+?)".join(re.escape(p) for p in parts) + "$"
        # A template's literal braces (a coding template such as '{community}{seq:03}') are not placeholders.
        out.append((re.compile(pattern, re.DOTALL), zh))
    return tuple(out)


def _fill(zh: str, values: list[str]) -> str:
    # str.format would read the literal braces of coding templates: placeholders are replaced one by one.
    return re.sub(r"\{(\d+)\}", lambda m: values[int(m.group(1))], zh)


def chinese(message: str) -> str | None:
    """The Chinese text of an English server message, or None when the catalogue has no template for it."""
    for pattern, zh in _compiled():
        m = pattern.match(message)
        if m is not None:
            return _fill(zh, [chinese(v) or v for v in m.groups()])
    return None


def text_for(message: str, lang: str) -> str:
    """``message`` (English) in ``lang``: the catalogue's Chinese, or the English after :data:`UNTRANSLATED`."""
    if lang == "en":
        return message
    zh = chinese(message)
    return zh if zh is not None else f"{UNTRANSLATED}{message}"


def language(accept_language: str | None) -> str:
    """The language of :data:`LANGUAGES` an ``Accept-Language`` header prefers most; Chinese by default."""
    best, best_q = LANGUAGES[0], -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best


_language: ContextVar[str] = ContextVar("gridplanner_language", default=LANGUAGES[0])


def current_language() -> str:
    """The language of the request being answered (set by the API's middleware; Chinese outside a request)."""
    return _language.get()


def set_language(lang: str) -> Token:
    return _language.set(lang)


def reset_language(token: Token) -> None:
    _language.reset(token)
