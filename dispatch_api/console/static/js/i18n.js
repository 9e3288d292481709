// Labels in English and Chinese; the language comes from the browser and can be switched.
// Every visible label goes through t(): a missing key shows as [key] so tests can catch it.

const MESSAGES = {
  en: {
    app_title: "countyroute console",
    skip_to_content: "Skip to the content",
    lang_switch: "中文",
    lang_switch_label: "切换到中文",
    nav_day: "Day board",
    nav_planner: "Planner",
    nav_docs: "API docs",
    sign_in: "Sign in",
    sign_out: "Sign out",
    sign_in_title: "Sign in to the dispatcher console",
    sign_in_help: "Paste your API key. It is exchanged once for a session of this browser and not kept in the page.",
    api_key: "API key",
    bad_key: "Unknown or revoked API key.",
    courier_refused_title: "Couriers do not use the console",
    courier_refused: "This key belongs to a courier. The courier app shows your route and takes your stop events; the console is for dispatchers and planners.",
    back_to_sign_in: "Sign in with another key",
    session_expired: "Your session ended. Sign in again.",
    signed_in_as: "{name} ({role})",
    role_admin: "admin", role_dispatcher: "dispatcher", role_planner: "planner", role_courier: "courier",
    network: "Network",
    date: "Date",
    no_networks: "No network imported yet.",
    import_builtin: "Import the built-in county (yanshi)",
    orders_title: "Orders of the day",
    orders_count: "{n} orders stored for this day",
    drop_csv: "Drop a CSV of the day's orders here, or choose a file",
    choose_file: "Choose a CSV file",
    uploading: "Uploading…",
    upload_ok: "{rows} rows: {created} new, {updated} updated, {unchanged} unchanged.",
    upload_rejected: "The file was rejected; nothing was stored. Fix these rows and upload again:",
    col_file: "File", col_row: "Row", col_field: "Field", col_problem: "Problem",
    plan_title: "Plan the day",
    budget: "Solver budget (seconds)",
    start_plan: "Start planning",
    job_status: "Job",
    job_queued: "queued", job_running: "running", job_succeeded: "finished", job_failed: "failed", job_cancelled: "cancelled",
    elapsed: "elapsed {s} s",
    stage: "stage: {stage}",
    stage_queued: "queued", stage_loading: "loading", stage_solving: "solving", stage_writing: "writing", stage_done: "done",
    stage_placing: "placing", stage_coverage_curve_n: "coverage curve {done}/{total}", stage_simulating_n: "simulating {done}/{total} days",
    stage_planned_n: "planned {done}/{total} days", stage_simulating: "simulating", "stage_re-queued_on_shutdown": "re-queued on shutdown", stage_cancelled: "cancelled",
    cancel_job: "Cancel",
    reconnecting: "The server is not answering; reconnecting…",
    job_lost: "lost contact with the server for {s} s ({why}): the job is no longer followed here, but it may still be running on the server",
    lost_status: "status {status}", lost_no_answer: "no response",
    cancel_failed: "Cancel did not go through ({why}); the job is still followed.",
    plans_of_day: "Plans of the day",
    open: "Open",
    status_draft: "draft", status_published: "published", status_superseded: "superseded",
    plan_n: "Plan {id}",
    revision: "revision {n}",
    tier_trunk_down: "Trunk, morning (down)",
    tier_last_mile: "Village runs",
    tier_trunk_up: "Trunk, afternoon (up)",
    tier_all: "All tiers",
    show_tier: "Routes shown",
    layer_roads: "Roads",
    layer_labels: "Village names",
    layer_deferred: "Deferred orders",
    legend: "Legend",
    legend_hub: "County hub",
    legend_station: "Town station",
    legend_village: "Village point",
    legend_poor: "Poor village",
    legend_deferred: "Deferred orders",
    legend_late: "Violation / late",
    legend_done: "Stop done",
    routes: "Routes",
    route_list_help: "Use the arrow keys to move through the routes, Enter to open one.",
    col_vehicle: "Vehicle", col_tier: "Tier", col_stops: "Stops", col_km: "km", col_hours: "h",
    col_cost: "Cost (¥)", col_load: "Load kg / m³ / parcels", col_ontime: "On time",
    col_progress: "Done", col_late: "Late",
    kpis: "Key figures",
    kpi_cost: "Cost", kpi_km: "Distance", kpi_hours: "Vehicle-hours", kpi_vehicles: "Vehicles",
    kpi_parcels: "Parcels", kpi_cost_per_parcel: "Cost per parcel", kpi_deferred: "Deferred orders",
    kpi_poor: "Poor villages visited", kpi_ontime: "Stops on time",
    yuan: "¥{v}", km: "{v} km", hours: "{v} h",
    deferred_title: "Deferred orders",
    reason_capacity: "capacity", reason_time: "time", reason_unreachable: "unreachable", reason_frequency: "visit frequency",
    deferred_at: "{n} orders deferred at {site}: {reason}, planned for {until}",
    vclass_truck: "truck", vclass_van: "van", vclass_tricycle: "tricycle",
    hint_no_open_road: "no open road lets {classes} reach {site}; reopen the road or send a vehicle class that may use it",
    hint_no_vehicle_may_go: "no vehicle may reach {site}; reopen the road or send a vehicle class that may use it",
    hint_open_earlier: "{site} opens at {opens}, after the last run could serve it; opening by {by} would fit it",
    hint_open_longer: "keeping {site} open {minutes} min longer (until {until}) would fit it",
    hint_depart_earlier: "the round trip to {site} does not fit the vehicles' shifts; an earlier departure would fit it",
    hint_one_more_vehicle: "one more {vehicle_class} at {home} would carry {carry} of these {parcels} parcels",
    hint_home_without_vehicles: "{home} has no vehicles; add one to carry these {parcels} parcels",
    hint_every_other_day: "{site} is visited every other day (under {parcels} parcels a day)",
    hint_no_vehicles: "no vehicles at {home}",
    hint_larger_than_vehicles: "larger than the largest vehicle at {home} ({vehicle})",
    hint_no_bulky_vehicle: "no vehicle at {home} may carry bulky parcels",
    hint_no_trunk_plan: "the trunk wave has no feasible plan",
    hint_no_station_plan: "the station's runs have no feasible plan",
    hint_up_wave_left: "the up wave had already left",
    hint_not_placed: "not placed by the planner",
    hint_broke_down: "{vehicle} broke down at {site}; send another truck",
    stops_of: "Stops of {vehicle}",
    col_seq: "#", col_site: "Site", col_arrive: "Arrives", col_start: "Starts", col_leave: "Leaves", col_drop: "Drop", col_collect: "Collect", col_actions: "Actions",
    kind_depart: "depart", kind_visit: "visit", kind_reload: "reload", kind_return: "return", kind_halt: "halt",
    move_to: "Move to",
    position: "Position",
    move: "Move",
    pin: "Pin to the chosen vehicle",
    pin_short: "Pin",
    pinned: "pinned",
    drag_hint: "Drag a stop onto a route in the list, or use Move; on the map, click a stop and then the route it should join.",
    map_move_hint: "Moving {site}: click the route on the map it should join (Esc cancels).",
    route_sheet: "Route sheet (PDF)",
    timeline: "Timeline",
    tl_driving: "driving", tl_service: "service", tl_waiting: "waiting", tl_reload: "reload / cross-dock", tl_hours: "opening hours",
    compare_title: "Compared with yesterday's published plan",
    compare_none: "No published plan yesterday.",
    compare_same: "Every village keeps yesterday's vehicle.",
    compare_changed: "{n} villages changed vehicle:",
    why_new: "not visited yesterday",
    why_gone: "not visited today",
    why_vehicle_idle: "yesterday's vehicle does not run today",
    why_replanned: "re-planned: cheaper than keeping yesterday's vehicle",
    edits: "Edits",
    undo: "Undo", redo: "Redo",
    save_edits: "Save edits",
    discard_edits: "Discard",
    edits_pending: "{n} edits not saved",
    edits_none: "No pending edits.",
    checking: "Checking…",
    check_ok: "Checked by the server: no violations.",
    check_failed: "The checker rejects this edit ({n} violations). Undo it or move the stop elsewhere.",
    violation: "Violation",
    vcode_window: "late: outside opening hours", vcode_time: "timing impossible", vcode_capacity: "overload", vcode_range: "beyond range", vcode_unreachable: "forbidden or closed road", vcode_shift: "outside the shift", vcode_duration: "route too long", vcode_cutoff: "back at the hub after the cut-off", vcode_sync: "misses its trunk", vcode_service: "service", vcode_order: "orders", vcode_bulky: "bulky parcel", vcode_load: "load", vcode_other: "rule broken",
    col_status: "Status",
    saved: "Saved: revision {n}.",
    reoptimise: "Re-optimise keeping pins",
    publish: "Publish",
    published_ok: "Published: couriers now see this plan.",
    planner_cannot_publish: "Planners cannot publish; a dispatcher does.",
    follow_title: "Following the day",
    live_events: "Courier events",
    no_events: "No events yet.",
    late_vehicle: "late",
    late_by: "late {m} min",
    overdue: "{n} stops overdue",
    live_via: "events arrive as the couriers send them (server-sent events; polled when the stream is not available)",
    ev_arrived: "arrived", ev_delivered: "delivered", ev_collected: "collected", ev_failed: "failed", ev_scanned: "scanned",
    repair_title: "Repair after a disruption",
    repair_at: "At (time of day)",
    repair_type: "Disruption",
    dis_vehicle_down: "Vehicle down", dis_road_closed: "Road closed", dis_trunk_late: "Trunk late", dis_urgent_pickup: "Urgent pickup",
    repair_vehicle: "Vehicle",
    repair_road: "Road",
    pick_road: "Pick the road on the map",
    pick_road_hint: "Click a road on the map.",
    repair_delay: "Delay (minutes)",
    repair_site: "Village point",
    repair_carrier: "Carrier",
    repair_kg: "Weight (kg)", repair_m3: "Volume (m³)", repair_parcels: "Parcels",
    repair_start: "Repair",
    repair_result: "Current plan and repaired plan",
    current_plan: "Current", repaired_plan: "Repaired",
    open_repaired: "Open the repaired plan",
    publish_repaired: "Publish the repaired plan",
    planner_title: "Planner tools",
    placement_title: "Where to put village points",
    radius_km: "Radius (km)",
    min_coverage: "Minimum coverage (share)",
    time_limit: "Time limit per solve (s)",
    run_placement: "Run placement",
    whatif_title: "What if…",
    change: "Change",
    days: "Days",
    run_whatif: "Run what-if",
    opened_sites: "New sites: {n}",
    coverage: "Village coverage {v}",
    poor_covered: "Poor villages covered: {a} of {b}",
    setup_cost: "Setup cost",
    coverage_curve: "Coverage against new points",
    kpi_spread: "KPI change per day (p10 – p90, mean)",
    col_kpi: "KPI", col_base: "Today", col_change: "With the change", col_diff: "Difference",
    planner_jobs: "Jobs",
    error: "Error: {msg}",
    loading: "Loading…",
    settings: "Map settings",
    tile_url: "Tile URL (optional, e.g. https://…/{z}/{x}/{y}.png)",
    tile_datum: "Tile datum",
    datum_wgs84: "WGS-84 / CGCS2000 (Tianditu, OSM)",
    datum_gcj02: "GCJ-02 (Amap)",
    apply: "Apply",
    close: "Close",
    back_to_day: "Back to the day board",
    show_all: "Show all ({n})",
    // the server's errors by code (problem+json "type", a job's error_code, an upload row's
    // code): English shows the server's own sentence, these are for the other languages
    row_n: "row {n}", vdetail_window: ": service starts {start}, open {opens}–{closes}",
    carrier_ems: "EMS", carrier_zto: "ZTO", carrier_yto: "YTO", carrier_sto: "STO", carrier_yunda: "Yunda", carrier_jt: "J&T", carrier_jd: "JD",
    change_growth30: "Volumes +30 %", "change_growth30-fleet": "Volumes +30 % with a larger fleet", "change_every-other-day": "Small villages every other day",
    "change_carriers-alone": "Each carrier alone", "change_bus-dakou": "Parcels on the Dakou bus", "change_new-points": "New village points",
    "stage_re-queued_after_a_server_stop": "re-queued after a server stop", stage_other: "working",
    "problem_bad-request": "Bad request", problem_unauthorized: "Not signed in, or the key is not valid", problem_forbidden: "Not allowed", "problem_not-found": "Not found",
    "problem_method-not-allowed": "Not supported", "problem_not-acceptable": "Format not available", problem_conflict: "Conflicts with the current data (changed meanwhile?); reload and retry",
    "problem_precondition-failed": "The data changed; reload and retry", "problem_content-too-large": "Too large", "problem_unsupported-media-type": "File type not supported",
    "problem_unprocessable-content": "Invalid input", "problem_invalid-input": "Invalid input", "problem_too-many-requests": "Too many requests; retry shortly",
    "problem_edit-rejected": "Rejected by the checker", problem_unavailable: "Busy; retry shortly", problem_internal: "Internal error (logged)",
    "problem_internal-server-error": "Internal error (logged)", "problem_not-implemented": "Not available in this build", problem_csrf: "Session check failed; reload the page",
    "problem_courier-refused": "Courier keys cannot open the console", problem_other: "Request failed ({status})", problem_field: "{text} (field: {field})",
    inerr_missing: "value is missing", inerr_bad_value: "bad value: {value}", inerr_unknown_site: "unknown site: {value}", inerr_duplicate_id: "duplicate order id: {value}",
    inerr_missing_columns: "missing columns: {columns}", inerr_row_width: "{values} values for {columns} columns", inerr_other: "invalid row",
    joberr_cancelled: "cancelled by {by}", joberr_no_orders: "no orders imported for the day", joberr_input: "bad input", joberr_inputs_unreadable: "cannot read the inputs",
    joberr_solver_error: "solver error (logged)", joberr_time_limit: "time limit exceeded: stopped", joberr_worker_died: "the job's process died",
    joberr_interrupted: "interrupted by server restarts", joberr_other: "failed",
  },
  zh: {
    app_title: "县域物流调度台",
    skip_to_content: "跳到正文",
    lang_switch: "English",
    lang_switch_label: "Switch to English",
    nav_day: "当日看板",
    nav_planner: "规划工具",
    nav_docs: "接口文档",
    sign_in: "登录",
    sign_out: "退出登录",
    sign_in_title: "登录调度台",
    sign_in_help: "粘贴您的 API 密钥。密钥只用于一次换取本浏览器的会话，页面不保存密钥。",
    api_key: "API 密钥",
    bad_key: "密钥无效或已吊销。",
    courier_refused_title: "快递员不使用调度台",
    courier_refused: "此密钥属于快递员。快递员应用会显示您的路线并上报站点事件；调度台供调度员和规划人员使用。",
    back_to_sign_in: "使用其他密钥登录",
    session_expired: "会话已结束，请重新登录。",
    signed_in_as: "{name}（{role}）",
    role_admin: "管理员", role_dispatcher: "调度员", role_planner: "规划人员", role_courier: "快递员",
    network: "网络",
    date: "日期",
    no_networks: "尚未导入网络。",
    import_builtin: "导入内置县域（偃师）",
    orders_title: "当日订单",
    orders_count: "当日已存订单 {n} 件",
    drop_csv: "将当日订单 CSV 拖放到此处，或选择文件",
    choose_file: "选择 CSV 文件",
    uploading: "正在上传…",
    upload_ok: "共 {rows} 行：新增 {created}，更新 {updated}，未变 {unchanged}。",
    upload_rejected: "文件被拒绝，未保存任何数据。请修正以下行后重新上传：",
    col_file: "文件", col_row: "行", col_field: "字段", col_problem: "问题",
    plan_title: "编制当日计划",
    budget: "求解时限（秒）",
    start_plan: "开始编制",
    job_status: "任务",
    job_queued: "排队中", job_running: "运行中", job_succeeded: "已完成", job_failed: "失败", job_cancelled: "已取消",
    elapsed: "已用 {s} 秒",
    stage: "阶段：{stage}",
    stage_queued: "排队中", stage_loading: "加载数据", stage_solving: "求解中", stage_writing: "写入结果", stage_done: "完成",
    stage_placing: "选址求解", stage_coverage_curve_n: "覆盖曲线 {done}/{total}", stage_simulating_n: "模拟 {done}/{total} 天",
    stage_planned_n: "已规划 {done}/{total} 天", stage_simulating: "模拟中", "stage_re-queued_on_shutdown": "停机后重新排队", stage_cancelled: "已取消",
    cancel_job: "取消",
    reconnecting: "服务器暂无响应，正在重新连接…",
    job_lost: "与服务器失去联系已 {s} 秒（{why}），此处不再跟踪该任务，但任务可能仍在服务器上运行",
    lost_status: "状态码 {status}", lost_no_answer: "无响应",
    cancel_failed: "取消未成功（{why}），仍在跟踪该任务。",
    plans_of_day: "当日计划",
    open: "打开",
    status_draft: "草稿", status_published: "已发布", status_superseded: "已替换",
    plan_n: "计划 {id}",
    revision: "第 {n} 版",
    tier_trunk_down: "干线上午（下行）",
    tier_last_mile: "村级线路",
    tier_trunk_up: "干线下午（上行）",
    tier_all: "全部层级",
    show_tier: "显示线路",
    layer_roads: "道路",
    layer_labels: "村名",
    layer_deferred: "延后订单",
    legend: "图例",
    legend_hub: "县级物流中心",
    legend_station: "乡镇服务站",
    legend_village: "村级服务点",
    legend_poor: "脱贫村",
    legend_deferred: "延后订单",
    legend_late: "违规 / 迟到",
    legend_done: "站点已完成",
    routes: "线路",
    route_list_help: "用方向键在线路间移动，回车打开。",
    col_vehicle: "车辆", col_tier: "层级", col_stops: "站点", col_km: "公里", col_hours: "小时",
    col_cost: "费用（元）", col_load: "装载 重量 / 体积 / 件数", col_ontime: "准时",
    col_progress: "已完成", col_late: "迟到",
    kpis: "关键指标",
    kpi_cost: "费用", kpi_km: "里程", kpi_hours: "车辆工时", kpi_vehicles: "车辆",
    kpi_parcels: "包裹", kpi_cost_per_parcel: "单件成本", kpi_deferred: "延后订单",
    kpi_poor: "到达的脱贫村", kpi_ontime: "准时站点",
    yuan: "{v} 元", km: "{v} 公里", hours: "{v} 小时",
    deferred_title: "延后订单",
    reason_capacity: "运力不足", reason_time: "时间不足", reason_unreachable: "无法到达", reason_frequency: "按频次隔日配送",
    deferred_at: "{site} 有 {n} 件订单延后：{reason}，计划于 {until} 配送",
    vclass_truck: "货车", vclass_van: "面包车", vclass_tricycle: "电动三轮车",
    hint_no_open_road: "没有开放的道路可让 {classes} 到达 {site}；请重新开放道路或改派可通行的车型",
    hint_no_vehicle_may_go: "没有车辆可以到达 {site}；请重新开放道路或改派可通行的车型",
    hint_open_earlier: "{site} {opens} 才开门，晚于最后一趟车能到的时间；{by} 前开门即可配送",
    hint_open_longer: "{site} 延长营业 {minutes} 分钟（至 {until}）即可配送",
    hint_depart_earlier: "往返 {site} 超出车辆班次；提早发车即可配送",
    hint_one_more_vehicle: "{home} 再增加一辆车（{vehicle_class}）可运送这 {parcels} 件中的 {carry} 件",
    hint_home_without_vehicles: "{home} 没有车辆；增加一辆即可运送这 {parcels} 件",
    hint_every_other_day: "{site} 隔日配送（每日不足 {parcels} 件）",
    hint_no_vehicles: "{home} 没有车辆",
    hint_larger_than_vehicles: "超过 {home} 最大车辆（{vehicle}）的装载量",
    hint_no_bulky_vehicle: "{home} 没有可装运大件的车辆",
    hint_no_trunk_plan: "干线波次没有可行方案",
    hint_no_station_plan: "该站的配送趟次没有可行方案",
    hint_up_wave_left: "上行波次已经发车",
    hint_not_placed: "未被规划安排",
    hint_broke_down: "{vehicle} 在 {site} 故障；请另派一辆货车",
    stops_of: "{vehicle} 的站点",
    col_seq: "序", col_site: "站点", col_arrive: "到达", col_start: "开始", col_leave: "离开", col_drop: "卸件", col_collect: "揽件", col_actions: "操作",
    kind_depart: "出发", kind_visit: "停靠", kind_reload: "回站装货", kind_return: "返回", kind_halt: "停驶",
    move_to: "移到",
    position: "位置",
    move: "移动",
    pin: "固定到所选车辆",
    pin_short: "固定",
    pinned: "已固定",
    drag_hint: "把站点拖到列表中的线路上，或使用“移动”；在地图上先点站点，再点要并入的线路。",
    map_move_hint: "正在移动 {site}：点击地图上要并入的线路（Esc 取消）。",
    route_sheet: "路单（PDF）",
    timeline: "时间轴",
    tl_driving: "行驶", tl_service: "作业", tl_waiting: "等待", tl_reload: "装货 / 分拨", tl_hours: "营业时间",
    compare_title: "与昨日已发布计划对比",
    compare_none: "昨日没有已发布的计划。",
    compare_same: "所有村庄仍由昨日的车辆配送。",
    compare_changed: "{n} 个村庄更换了车辆：",
    why_new: "昨日未配送",
    why_gone: "今日未配送",
    why_vehicle_idle: "昨日车辆今日不出车",
    why_replanned: "重新规划：比保持昨日车辆更省",
    edits: "调整",
    undo: "撤销", redo: "重做",
    save_edits: "保存调整",
    discard_edits: "放弃",
    edits_pending: "{n} 项调整未保存",
    edits_none: "没有待保存的调整。",
    checking: "正在校验…",
    check_ok: "服务器校验通过：无违规。",
    check_failed: "校验未通过（{n} 项违规）。请撤销或换个位置。",
    violation: "违规",
    vcode_window: "迟到：超出营业时间", vcode_time: "时间不可行", vcode_capacity: "超载", vcode_range: "超出续航", vcode_unreachable: "禁行或封闭道路", vcode_shift: "超出班次", vcode_duration: "线路过长", vcode_cutoff: "晚于截止时间回到物流中心", vcode_sync: "赶不上干线", vcode_service: "作业", vcode_order: "订单", vcode_bulky: "大件", vcode_load: "装载", vcode_other: "违反规则",
    col_status: "状态",
    saved: "已保存：第 {n} 版。",
    reoptimise: "保留固定项重新优化",
    publish: "发布",
    published_ok: "已发布：快递员现在看到此计划。",
    planner_cannot_publish: "规划人员不能发布计划，请由调度员发布。",
    follow_title: "当日跟踪",
    live_events: "快递员事件",
    no_events: "暂无事件。",
    late_vehicle: "迟到",
    late_by: "迟到 {m} 分钟",
    overdue: "{n} 个站点逾期",
    live_via: "快递员上报的事件实时到达（服务器推送；不可用时轮询）",
    ev_arrived: "已到达", ev_delivered: "已投递", ev_collected: "已揽收", ev_failed: "失败", ev_scanned: "已扫描",
    repair_title: "突发情况修复",
    repair_at: "时间",
    repair_type: "情况",
    dis_vehicle_down: "车辆故障", dis_road_closed: "道路封闭", dis_trunk_late: "干线晚到", dis_urgent_pickup: "紧急揽件",
    repair_vehicle: "车辆",
    repair_road: "道路",
    pick_road: "在地图上选择道路",
    pick_road_hint: "点击地图上的道路。",
    repair_delay: "延误（分钟）",
    repair_site: "村级服务点",
    repair_carrier: "快递公司",
    repair_kg: "重量（千克）", repair_m3: "体积（立方米）", repair_parcels: "件数",
    repair_start: "修复",
    repair_result: "当前计划与修复后计划",
    current_plan: "当前", repaired_plan: "修复后",
    open_repaired: "打开修复后的计划",
    publish_repaired: "发布修复后的计划",
    planner_title: "规划工具",
    placement_title: "村级服务点选址",
    radius_km: "服务半径（公里）",
    min_coverage: "最低覆盖率（比例）",
    time_limit: "每次求解时限（秒）",
    run_placement: "运行选址",
    whatif_title: "情景模拟",
    change: "变化",
    days: "天数",
    run_whatif: "运行模拟",
    opened_sites: "新增站点：{n} 个",
    coverage: "村庄覆盖率 {v}",
    poor_covered: "脱贫村覆盖：{a} / {b}",
    setup_cost: "建设费用",
    coverage_curve: "覆盖率与新增站点数",
    kpi_spread: "每日指标变化（p10 – p90，均值）",
    col_kpi: "指标", col_base: "现状", col_change: "变化后", col_diff: "差值",
    planner_jobs: "任务",
    error: "错误：{msg}",
    loading: "加载中…",
    settings: "地图设置",
    tile_url: "瓦片地址（可选，例如 https://…/{z}/{x}/{y}.png）",
    tile_datum: "瓦片坐标系",
    datum_wgs84: "WGS-84 / CGCS2000（天地图、OSM）",
    datum_gcj02: "GCJ-02（高德）",
    apply: "应用",
    close: "关闭",
    back_to_day: "返回当日看板",
    show_all: "显示全部（{n}）",
    row_n: "第 {n} 行", vdetail_window: "：{start} 开始作业，营业时间 {opens}–{closes}",
    carrier_ems: "中国邮政", carrier_zto: "中通", carrier_yto: "圆通", carrier_sto: "申通", carrier_yunda: "韵达", carrier_jt: "极兔", carrier_jd: "京东",
    change_growth30: "业务量增长 30%", "change_growth30-fleet": "业务量增长 30% 并扩充车队", "change_every-other-day": "小村隔日配送",
    "change_carriers-alone": "各快递公司单独配送", "change_bus-dakou": "大口客货邮班车捎带", "change_new-points": "新增村级服务点",
    "stage_re-queued_after_a_server_stop": "服务重启后重新排队", stage_other: "处理中",
    "problem_bad-request": "请求有误", problem_unauthorized: "未登录或密钥无效", problem_forbidden: "无权执行此操作", "problem_not-found": "未找到",
    "problem_method-not-allowed": "不支持此操作", "problem_not-acceptable": "无法提供所需格式", problem_conflict: "与当前数据冲突（可能已被他人修改），请刷新后重试",
    "problem_precondition-failed": "数据已变更，请刷新后重试", "problem_content-too-large": "内容过大", "problem_unsupported-media-type": "不支持的文件类型",
    "problem_unprocessable-content": "输入无效", "problem_invalid-input": "输入无效", "problem_too-many-requests": "请求过于频繁，请稍后再试",
    "problem_edit-rejected": "校验未通过", problem_unavailable: "服务繁忙，请稍后重试", problem_internal: "服务器内部错误（已记录）",
    "problem_internal-server-error": "服务器内部错误（已记录）", "problem_not-implemented": "此版本不支持该功能", problem_csrf: "会话校验失败，请刷新页面",
    "problem_courier-refused": "快递员密钥不能登录调度台", problem_other: "请求失败（{status}）", problem_field: "{text}（字段：{field}）",
    inerr_missing: "缺少取值", inerr_bad_value: "取值无效：{value}", inerr_unknown_site: "未知站点：{value}", inerr_duplicate_id: "订单编号重复：{value}",
    inerr_missing_columns: "缺少列：{columns}", inerr_row_width: "该行有 {values} 个值，应为 {columns} 个", inerr_other: "该行数据无效",
    joberr_cancelled: "已被 {by} 取消", joberr_no_orders: "当日尚未导入订单", joberr_input: "输入数据有误", joberr_inputs_unreadable: "无法读取输入数据",
    joberr_solver_error: "求解器出错（已记录）", joberr_time_limit: "超出时限，任务已终止", joberr_worker_died: "任务进程意外退出",
    joberr_interrupted: "服务多次重启，任务中断", joberr_other: "任务失败",
  },
};

let current = pickLanguage();

function pickLanguage() {
  const saved = localStorage.getItem("countyroute.lang");
  if (saved === "en" || saved === "zh") return saved;
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const l of langs) {
    if (l.toLowerCase().startsWith("zh")) return "zh";
    if (l.toLowerCase().startsWith("en")) return "en";
  }
  return "en";
}

export function lang() { return current; }

export function setLang(l) {
  current = l === "zh" ? "zh" : "en";
  localStorage.setItem("countyroute.lang", current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

export function t(key, vars = {}) {
  const text = MESSAGES[current][key];
  if (text === undefined) return `[${key}]`;
  return text.replace(/\{(\w+)\}/g, (_, k) => (vars[k] !== undefined ? String(vars[k]) : `{${k}}`));
}

/** Does this key exist (for optional labels such as violation codes)? */
export function has(key) { return MESSAGES[current][key] !== undefined; }

const locale = () => (current === "zh" ? "zh-CN" : "en-GB");

// Formatters are made once per language and kind: making one costs about as much as a
// thousand uses (a large plan formats tens of thousands of numbers).
const formats = new Map();
function formatter(kind, digits) {
  const key = `${current}|${kind}|${digits}`;
  let f = formats.get(key);
  if (!f) {
    f = kind === "pct"
      ? new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 0 })
      : new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits });
    formats.set(key, f);
  }
  return f;
}

export function num(v, digits = 0) { return formatter("num", digits).format(v); }

export function pct(v) { return formatter("pct", 0).format(v); }

export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

export function day(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "long", day: "numeric", weekday: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

/** A problem+json answer in the page's language: English shows the server's sentence; other
 *  languages say what its ``type`` code means, with the field it names. */
export function problemText(problem, status) {
  if (current === "en") return problem.detail || `HTTP ${status}`;
  const code = String(problem.type || "").replace(/^\/problems\//, "");
  const text = has(`problem_${code}`) ? t(`problem_${code}`) : t("problem_other", { status });
  return problem.field ? t("problem_field", { text, field: problem.field }) : text;
}

/** One rejected row of an upload (``errors[]``): the server's sentence in English, its
 *  ``code`` and ``params`` said in the page's language otherwise. */
export function inputErrorText(e) {
  if (current === "en") return e.detail || "";
  return has(`inerr_${e.code}`) ? t(`inerr_${e.code}`, e.params || {}) : t("inerr_other");
}

/** Where in a file ("row 7 (line 8)"), in the page's language. */
export function locationText(location) {
  const m = /^row (\d+)/.exec(location || "");
  return m ? t("row_n", { n: m[1] }) : location || "";
}

/** A failed or cancelled job's error, from its ``error_code`` outside English. */
export function jobErrorText(job) {
  if (current === "en" || !job.error_code) return job.error || "";
  return t(has(`joberr_${job.error_code}`) ? `joberr_${job.error_code}` : "joberr_other", job.error_params || {});
}

/** An option label of the page's language for a code, else the code (carriers, changes). */
export function named(prefix, code) { return has(prefix + code) ? t(prefix + code) : code; }

export const MESSAGES_FOR_TESTS = MESSAGES;
