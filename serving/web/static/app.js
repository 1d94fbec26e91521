// feijian's page: keeps the token in this tab only, calls the JSON API with it, and shows each role
// only what its rights allow (the service refuses the rest anyway: serving/permissions.py).
"use strict";
const $ = (s) => document.querySelector(s);
const $$ = (s) => Array.from(document.querySelectorAll(s));
let me = {rights: []}; // /api/info: role, rights, labels
let labels = {type: {}, level: {}, ownership: {}, region: {}, selection: {}, insp_type: {}, violation: {}, agreement_action: {}};
let current = null; // code of the facility in the detail view
let lastRow = null; // the row that opened it (focus returns there on Esc)
let saved = null; // the round on screen: {round_id, rank: {code → rank}}
const charts = {};
const FACILITY_PATH = /^\/ui\/facility\/([^/]+)$/;
const RING_HASH = /^#ring=(RG-[0-9A-F]{8})$/; // /ui/#ring=RG-…: the 疑似团伙 view with that ring open

function token() { return sessionStorage.getItem("feijian-token") || ""; }
function may(right) { return me.rights.includes(right); }
function say(msg, error = false) { const f = $("#status"); f.textContent = msg; f.className = error ? "error" : ""; }
// one decimal, two below 10 %: the same rule as the reports' `pct` (serving/reports/render.py)
function fmtPct(p) { return p == null ? "—" : (100 * p).toFixed(p > 0 && p < 0.1 ? 2 : 1) + "%"; }
function fmtRank(v) { return v == null ? "—" : Math.round(v); }
function fmtYuan(v) { return v == null ? "—" : Math.round(v).toLocaleString("zh-CN"); }
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }
function region(code) { return labels.region[code] || code || ""; }
function label(table, code) { return (labels[table] || {})[code] || code || ""; }

class ApiError extends Error {}
async function api(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token()}, body: JSON.stringify(body ?? {})});
  const text = await r.text();
  let data; try { data = JSON.parse(text); } catch { data = {}; }
  if (!r.ok) { throw new ApiError(data.message || `请求失败（${r.status}）`); }
  return data;
}

// A download over 0.5 s shows progress; the button is disabled while it runs.
async function download(button, path, body, filename, method = "POST") {
  const opts = {method, headers: {"Authorization": "Bearer " + token()}};
  if (method === "POST") { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  button.disabled = true;
  const timer = setTimeout(() => busy(`正在生成 ${filename}…`), 500);
  try {
    const r = await fetch(path, opts);
    if (!r.ok) { let m; try { m = (await r.json()).message; } catch { m = null; } say(`下载失败：${m || r.status}`, true); return; }
    const blob = await r.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = filename; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
    say(`已下载 ${filename}`);
  } finally { clearTimeout(timer); busy(null); button.disabled = false; }
}
function busy(text) { $("#busy").hidden = !text; $("#busy-text").textContent = text || ""; }

// --- signing in, and what the role sees -----------------------------------------------------------
async function signIn() {
  try {
    me = await api("/api/info");
  } catch (e) { me = {rights: []}; applyRights(); say("无法登录：" + e.message, true); return; }
  labels = Object.assign(labels, me.labels || {});
  $("#who").hidden = true; $("#me").hidden = false;
  $("#me-role").textContent = `${me.role_zh || me.role}${me.user ? " · " + me.user : ""}`;
  $("#info").textContent = `模型 v${me.model_version} · 数据截至 ${me.as_of}`;
  $("#regions").innerHTML = me.regions.map((v) => `<option value="${esc(v)}">${esc(region(v))}</option>`).join("");
  $("#types").innerHTML = me.types.map((v) => `<option value="${esc(v)}">${esc(label("type", v))}</option>`).join("");
  for (const sel of $$("select[data-labels]")) {
    sel.innerHTML = Object.entries(labels[sel.dataset.labels] || {}).map(([k, v]) => `<option value="${esc(k)}">${esc(v)}</option>`).join("");
  }
  $("#finding-form select[name=insp_type]").value = "flight";
  $("#finding-form select[name=selection]").value = "targeted";
  $("#outside-form select[name=selection]").value = "tip_off"; // an outside case is mostly a tip-off
  $("#outside-form select[name=insp_type]").value = "targeted";
  $("#case-violation-boxes").innerHTML = Object.entries(labels.violation || {}).map(([k, v]) =>
    `<label class="check"><input type="checkbox" name="case_violation" value="${esc(k)}"> ${esc(v)}</label>`).join("");
  $("#violation-boxes").innerHTML = Object.entries(labels.violation || {}).map(([k, v]) =>
    `<label class="check"><input type="checkbox" name="violation" value="${esc(k)}"> ${esc(v)}</label>`).join("");
  applyRights();
  renderModel();
  if (may("rounds")) loadRounds();
  const m = location.pathname.match(FACILITY_PATH);
  const landing = may("plan") ? "plan" : may("explain") ? "search" : may("meta") ? "model" : may("burden") ? "burden" : "signin";
  const r = location.hash.match(RING_HASH);
  show(r && may("explain") ? "rings" : landing);
  if (r && may("explain")) openRing(r[1]);
  if (m && may("explain")) openDetail(decodeURIComponent(m[1]), null, false);
  say(landing === "signin" ? "此角色没有可在页面上使用的功能（运行监控请使用 /metrics）。" : "已登录。");
}

function signOut() {
  sessionStorage.removeItem("feijian-token");
  me = {rights: []}; saved = null; current = null;
  $("#plan-table tbody").innerHTML = ""; $("#search-table tbody").innerHTML = ""; $("#detail-body").innerHTML = "";
  closeRing(); $("#rings-table tbody").innerHTML = ""; $("#rings-table").hidden = true; $("#rings-summary").textContent = "";
  $("#who").hidden = false; $("#me").hidden = true; $("#token").value = "";
  closeDetail(false); applyRights(); show("signin"); say("已退出。");
}

// Elements naming rights (data-right="a b": any of them) are shown only to a role holding one.
function applyRights() {
  for (const el of $$("[data-right]")) el.hidden = !el.dataset.right.split(" ").some(may);
  $("#tabs").hidden = !me.role;
}

function show(view) {
  for (const s of $$(".view")) s.hidden = s.id !== "view-" + view;
  for (const b of $$("#tabs button")) b.setAttribute("aria-current", b.dataset.view === view ? "page" : "false");
  if (view === "burden") loadBurden();
  if (view === "cases") loadCases();
  if (view === "quality") loadQuality();
  if (view === "rings") loadRings();
  Object.values(charts).forEach((c) => c.resize());
}

// --- the plan and saved rounds ----------------------------------------------------------------------
function selected(id) { return Array.from($(id).selectedOptions).map((o) => o.value); }
function planRequest() {
  return {capacity: Number($("#capacity").value), regions: selected("#regions"), types: selected("#types"),
          exclude_days: Number($("#exclude_days").value), exploration_share: Number($("#exploration").value),
          joint_rings: $("#joint_rings").checked};
}

async function loadRounds() {
  try {
    const res = await api("/api/rounds/list");
    const options = res.rounds.map((r) =>
      `<option value="${esc(r.round_id)}">${esc(r.round_id)} · ${esc(r.as_of)} · ${r.n_picks} 家${r.status === "superseded" ? "（已被替代）" : ""}</option>`).join("");
    $("#rounds").innerHTML = `<option value="">（请选择）</option>` + options;
    $("#case-round").innerHTML = `<option value="">（全部）</option>` + options + `<option value="outside">批次外检查</option>`;
  } catch (e) { $("#rounds-box").hidden = true; }
}

function cell(head, html, cls = "") { return `<td data-label="${head}"${cls ? ` class="${cls}"` : ""}>${html}</td>`; }
// a plan's target in a suspected ring: inspected jointly with the ring's other members
let jointRings = new Set(); // the rings the plan on screen takes as joint inspections
function ringTag(id) {
  if (!id) return "";
  const joint = jointRings.has(id);
  // on a line of its own: the name's cell does not wrap, and the list must fit beside an open detail
  return `<br><span class="badge ring${joint ? " joint" : ""}" title="${joint ? "疑似团伙成员，本计划与团伙其他成员联合检查" : "疑似团伙成员，宜与团伙其他成员同批检查"}">团伙 ${esc(id)}</span>`;
}
function ringSentence(rings) {
  if (!rings || !rings.length) return "";
  const n = rings.reduce((a, r) => a + r.facilities.length, 0);
  const joint = rings.filter((r) => r.joint).length;
  return `其中 ${n} 家属于 ${rings.length} 个疑似团伙${joint ? `（${joint} 个团伙联合检查）` : ""}。`;
}
function renderTargets(targets) {
  $("#plan-table tbody").innerHTML = targets.map((t) => `<tr data-code="${esc(t.fixmedins_code)}" tabindex="0">
      ${cell("序号", t.rank, "num")}${cell("机构", `<b>${esc(t.fixmedins_name || t.name || t.fixmedins_code)}</b>${ringTag(t.ring_id)}`)}${cell("地区", esc(t.admdvs_name || region(t.admdvs)))}
      ${cell("类型", esc(label("type", t.fixmedins_type)))}${cell("等级", esc(label("level", t.hosp_lv)))}${cell("严重问题概率", fmtPct(t.p_serious), "num")}
      ${cell("预计追回（元）", fmtYuan(t.expected_recovery), "num")}${cell("主要原因", esc((t.top_reasons || t.reasons || []).slice(0, 2).join("；")), "why")}
      ${cell("入选方式", `<span class="badge ${esc(t.pick)}">${t.pick === "exploration" ? "随机探索" : "模型推荐"}</span>${t.flag ? `<br><b class="flag">${esc(t.flag)}</b>` : ""}`)}</tr>`).join("");
  regionChart(targets);
}

function clearList(message) {
  $("#plan-table tbody").innerHTML = ""; $("#plan-summary").textContent = message || ""; regionChart([]);
  saved = null;
}

async function openRound() {
  const id = $("#rounds").value;
  if (!id) { say("请先选择一个检查批次。", true); return; }
  try {
    const r = await api("/api/round", {round_id: id});
    saved = {round_id: r.round_id, rank: Object.fromEntries(r.picks.map((p) => [p.fixmedins_code, p.rank]))};
    jointRings = new Set();
    renderTargets(r.picks);
    $("#plan-summary").textContent = `检查批次 ${r.round_id}：计划日期 ${r.as_of}，共 ${r.picks.length} 家，预期追回合计 ${fmtYuan(r.expected_total)} 元` +
      (r.status === "superseded" ? `（已被 ${r.superseded_by} 替代）。` : "。");
    say("选中一行查看原因与证据，并登记检查结果。");
  } catch (e) { clearList(); say("无法打开检查批次：" + e.message, true); }
}

async function plan(ev) {
  ev?.preventDefault();
  say("正在生成检查计划…");
  try {
    const res = await api("/api/plan", planRequest());
    saved = null;
    const m = res.meta || {};
    jointRings = new Set((m.rings || []).filter((r) => r.joint).map((r) => r.ring_id));
    renderTargets(res.targets);
    const barred = (m.exclusions || {}).sanctioned || 0;
    $("#plan-summary").textContent = `共 ${res.targets.length} 家，预期追回合计 ${fmtYuan(m.expected_total)} 元。${m.ranking_zh || ""}。`
      + (barred ? `已排除 ${barred} 家被解除或暂停协议的机构。` : "") + (m.n_flagged ? `${m.n_flagged} 家标注了协议处理情况。` : "")
      + ringSentence(m.rings);
    say("检查计划已生成。选中一行查看原因与证据。");
  } catch (e) { clearList(); say("生成失败：" + e.message, true); }
}

async function saveRound() {
  if (!confirm("保存为检查批次后不可修改，只能由新的批次替代。确定保存？")) return;
  say("正在保存检查批次…");
  try {
    const body = planRequest();
    if (saved && confirm(`新批次是否替代本页刚保存的批次 ${saved.round_id}？`)) body.supersedes = saved.round_id;
    const r = await api("/api/rounds", body);
    const shown = $$("#plan-table tbody tr").map((tr) => tr.dataset.code);
    saved = {round_id: r.round_id, rank: Object.fromEntries(r.picks.map((p) => [p.fixmedins_code, p.rank]))};
    const same = shown.join() === r.picks.map((p) => p.fixmedins_code).join();
    $("#round-status").textContent = `已保存为检查批次 ${r.round_id}（${r.picks.length} 家，计划日期 ${r.as_of}）。` +
      "在机构详情中登记的检查结果将记入该批次。" + (same ? "" : "注意：保存时的名单与屏幕上的不同（期间有新的检查记录），请重新生成计划核对。");
    say(`检查批次 ${r.round_id} 已保存。`);
    loadRounds();
  } catch (e) { say("保存失败：" + e.message, true); }
}

// --- search -------------------------------------------------------------------------------------------
async function search(ev) {
  ev.preventDefault();
  const q = $("#q").value.trim();
  if (!q) { say("请输入机构名称的一部分或机构编号。", true); return; }
  try {
    const res = await api("/api/search", {q, limit: 30});
    $("#search-table").hidden = !res.results.length;
    $("#search-summary").textContent = res.results.length ? `找到 ${res.results.length} 家机构${res.results.length >= 30 ? "（只列前 30 家，请输入更完整的名称）" : ""}。` : `没有名称或编号包含“${q}”的机构。`;
    $("#search-table tbody").innerHTML = res.results.map((t) => `<tr data-code="${esc(t.fixmedins_code)}" tabindex="0">
      ${cell("机构", `<b>${esc(t.name)}</b>`)}${cell("编号", esc(t.fixmedins_code))}${cell("地区", esc(t.admdvs_name))}
      ${cell("类型 / 等级", esc(t.type_zh) + " · " + esc(t.hosp_lv_zh))}${cell("严重问题概率", fmtPct(t.p_serious), "num")}${cell("预计追回（元）", fmtYuan(t.expected_recovery), "num")}</tr>`).join("");
  } catch (e) { $("#search-table").hidden = true; $("#search-table tbody").innerHTML = ""; $("#search-summary").textContent = ""; say("查询失败：" + e.message, true); }
}

// --- one facility -----------------------------------------------------------------------------------
function ringBox(r) {
  if (!r) return "";
  const others = (r.names || []).map((n) => esc(n)).join("、");
  return `<div class="ring-box" id="detail-ring"><h3>疑似团伙</h3><p>${esc(r.reason_zh)}</p>
    <p class="note">团伙 ${esc(r.ring_id)}：${others}。团伙得分 ${fmtPct(r.score)}，预计追回 ${fmtYuan(r.expected_recovery)} 元，宜同批联合检查。</p>
    <p><a href="/ui/#ring=${esc(r.ring_id)}" data-ring="${esc(r.ring_id)}">查看团伙 ${esc(r.ring_id)}</a></p></div>`;
}

function renderExplanation(x) {
  const reasons = (x.reasons || []).map((r) => {
    const ev = (r.evidence || []).map((e) => `${esc(e.name_zh)} ${e.n_hits} 条，涉及 ${fmtYuan(e.amount_at_risk)} 元${e.n_covered ? `（其中 ${e.n_covered} 条在既往检查已覆盖期间，未覆盖 ${fmtYuan(e.amount_uncovered)} 元）` : ""}${e.article ? "，依据 " + esc(e.article) : ""}`);
    return `<div class="reason"><div>${esc(r.text)}</div>${ev.length ? `<div class="ev">证据：${ev.join("；")}</div>` : ""}</div>`;
  }).join("");
  const docs = (x.physicians || []).slice(0, 5).map((d) => `<li>${esc(d.dr_code)} ${esc(d.dept || "")} 预计涉险 ${fmtYuan(d.exposure)} 元 · 记分概率 ${fmtPct(d.p_risk)}（第 ${fmtRank(d.risk_percentile)} 百分位） · 规则命中 ${fmtYuan(d.rule_hit_amount)} 元 · 已记分 ${d.points_total ?? 0} 分${d.points_last ? `（最近 ${esc(String(d.points_last).slice(0, 10))}）` : ""}</li>`).join("");
  const hist = (x.inspections || []).map((h) => `<tr>${cell("检查日期", esc(h.insp_date))}${cell("检查编号", esc(h.insp_id))}${cell("批次", esc(h.batch || ""))}${cell("选取方式", esc(h.selection_zh || ""))}
      ${cell("违规类型", esc(h.violation_zh || "—"))}${cell("追回（元）", fmtYuan(h.amount_recovered), "num")}${cell("罚款（元）", fmtYuan(h.fine_amount), "num")}
      ${cell("协议处理", esc(h.agreement_action_zh || ""))}${cell("来源", h.recorded ? "<span class=\"badge recorded\">本系统登记</span>" : "数据导入")}</tr>`).join("");
  const t = x.target || {}; const risk = x.risk || {};
  const iv = risk.expected_recovery_interval || []; const pv = risk.p_serious_interval || [];
  return `<h2 id="detail-title" tabindex="-1">${esc(t.name || t.fixmedins_code)}</h2>
    <p>${esc(t.fixmedins_code)} · ${esc(t.type_zh || "")} · ${esc(t.hosp_lv_zh || "")} · ${esc(t.ownership_zh || "")} · ${esc(t.admdvs_name || t.admdvs || "")}</p>
    <div class="boxes"><div class="box"><div class="k">严重问题概率</div><div class="v">${fmtPct(risk.p_serious)}</div><div class="k">${fmtPct(pv[0])}–${fmtPct(pv[1])} · 第 ${fmtRank(risk.percentile)} 百分位</div></div>
    <div class="box"><div class="k">预计追回（元）</div><div class="v">${fmtYuan(risk.expected_recovery)}</div><div class="k">${esc(risk.interval_label || "区间")} ${fmtYuan(iv[0])}–${fmtYuan(iv[1])}</div></div></div>
    <p class="note">${esc(risk.interval_basis || "")} 模型 v${esc(x.model_version || "")} · 数据截至 ${esc(x.as_of || "")}</p>
    ${ringBox(x.ring)}
    <h3>提示风险的原因</h3>${reasons || "<p>—</p>"}
    <h3>近几轮与同类机构比较</h3><div id="chart-trend" class="chart" role="img" aria-label="本机构近几轮基金支付与规则命中占比，与同类机构中位数比较"></div>
    <h3>医师</h3><p class="note">${esc(x.physician_ranking_zh || "")}；${esc(x.p_risk_meaning_zh || "")}</p><ul>${docs || "<li>—</li>"}</ul>
    <h3>检查历史</h3><table class="cards hist"><thead><tr><th scope="col">检查日期</th><th scope="col">检查编号</th><th scope="col">批次</th><th scope="col">选取方式</th><th scope="col">违规类型</th><th scope="col">追回（元）</th><th scope="col">罚款（元）</th><th scope="col">协议处理</th><th scope="col">来源</th></tr></thead>
    <tbody>${hist || `<tr><td colspan="9">无检查记录。</td></tr>`}</tbody></table>`;
}

async function openDetail(code, row = null, push = true) {
  current = code; lastRow = row;
  showPick();
  $("#finding-status").textContent = "";
  $("main").classList.add("with-detail");
  $("#detail").hidden = false;
  $("#detail-body").innerHTML = "<p>加载中…</p>";
  if (push && location.pathname !== `/ui/facility/${encodeURIComponent(code)}`) history.pushState({code}, "", `/ui/facility/${encodeURIComponent(code)}`);
  try {
    const x = await api("/api/explain", {code});
    if (current !== code) return;
    $("#detail-body").innerHTML = renderExplanation(x);
    trendChart(x.trend);
    document.title = `飞检 · ${x.target?.name || code}`;
    $("#detail-title").focus();
  } catch (e) { $("#detail-body").innerHTML = `<p class="error" id="detail-title" tabindex="-1">无法加载：${esc(e.message)}</p>`; $("#detail-title").focus(); }
}

function closeDetail(push = true) {
  $("#detail").hidden = true; $("main").classList.remove("with-detail"); current = null;
  if (charts.trend) { charts.trend.dispose(); delete charts.trend; }
  if (push && FACILITY_PATH.test(location.pathname)) history.pushState({}, "", "/ui/");
  document.title = "飞检 · 医保基金飞行检查";
  if (lastRow && document.body.contains(lastRow)) lastRow.focus();
}

function showPick() {
  const rank = saved && saved.rank[current];
  $("#finding-pick").hidden = !rank;
  $("#finding-pick").textContent = rank ? `记入检查批次 ${saved.round_id} 第 ${rank} 家：机构、检查期间与选取方式取自该批次。` : "";
  $("#finding-own").hidden = Boolean(rank); $("#finding-own").disabled = Boolean(rank);
}

async function saveFinding(ev) {
  ev.preventDefault();
  const form = ev.target;
  const f = new FormData(form);
  const body = {};
  for (const [k, v] of f.entries()) if (k !== "violation" && k !== "referral" && v !== "") body[k] = v;
  const rank = saved && saved.rank[current];
  if (rank) { body.round_id = saved.round_id; body.rank = rank; } else { body.fixmedins_code = current; }
  for (const k of ["amount_recovered", "fine_amount", "amount_involved"]) if (k in body) body[k] = Number(body[k]);
  const v = f.getAll("violation"); if (v.length) body.violation_types = v.join(";");
  body.referral = form.querySelector("input[name=referral]").checked;
  const code = current;
  try {
    const r = await api("/api/findings", body);
    $("#finding-status").textContent = r.created ? "已保存，已记入检查历史。" : `已更新：检查编号 ${body.insp_id} 原有的记录已被这次填写的内容替换。`;
    const x = await api("/api/explain", {code});
    if (current === code) { $("#detail-body").innerHTML = renderExplanation(x); trendChart(x.trend); }
  } catch (e) { $("#finding-status").textContent = "保存失败：" + e.message; }
}

// --- charts (ECharts, vendored: serving/web/static/vendor) ----------------------------------------
function chart(id, el) {
  if (!el || typeof echarts === "undefined") return null;
  if (charts[id] && charts[id].getDom() !== el) { charts[id].dispose(); delete charts[id]; }
  charts[id] = charts[id] || echarts.init(el, null, {renderer: "svg"});
  return charts[id];
}

function regionChart(targets) {
  const el = $("#chart-region");
  el.hidden = !targets.length;
  if (!targets.length) return;
  const by = {};
  for (const t of targets) { const k = t.admdvs_name || region(t.admdvs); by[k] = by[k] || {n: 0, amount: 0}; by[k].n += 1; by[k].amount += t.expected_recovery || 0; }
  const names = Object.keys(by).sort((a, b) => by[b].amount - by[a].amount);
  chart("region", el).setOption({
    title: {text: "按地区：预计追回金额与机构数", textStyle: {fontSize: 13}}, tooltip: {trigger: "axis"},
    legend: {bottom: 0, data: ["预计追回（元）", "机构数"]}, grid: {left: 70, right: 40, top: 50, bottom: 55},
    xAxis: {type: "category", data: names}, yAxis: [{type: "value", name: "元"}, {type: "value", name: "家", minInterval: 1}],
    series: [{name: "预计追回（元）", type: "bar", data: names.map((k) => Math.round(by[k].amount))},
             {name: "机构数", type: "line", yAxisIndex: 1, data: names.map((k) => by[k].n)}],
  }, true);
}

function trendChart(trend) {
  const el = $("#chart-trend");
  if (!trend || !trend.as_of || !trend.as_of.length) { if (el) el.outerHTML = "<p>暂无历次数据。</p>"; return; }
  const [pay, share] = trend.series;
  const pct = (a) => a.map((v) => (v == null ? null : +(100 * v).toFixed(2)));
  chart("trend", el).setOption({
    tooltip: {trigger: "axis"}, legend: {bottom: 0, type: "scroll"},
    grid: {left: 70, right: 50, top: 35, bottom: 55}, xAxis: {type: "category", data: trend.as_of},
    yAxis: [{type: "value", name: "元"}, {type: "value", name: "%"}],
    series: [{name: `${pay.label}（本机构）`, type: "bar", data: pay.value}, {name: `${pay.label}（同类中位数）`, type: "bar", data: pay.peer_median},
             {name: `${share.label}（本机构）`, type: "line", yAxisIndex: 1, data: pct(share.value)},
             {name: `${share.label}（同类中位数）`, type: "line", yAxisIndex: 1, lineStyle: {type: "dashed"}, data: pct(share.peer_median)}],
  }, true);
}

const BURDEN = {admdvs: ["按地区", region], hosp_lv: ["按医院等级", (v) => label("level", v)], ownership: ["按所有制", (v) => label("ownership", v)]};
async function loadBurden() {
  try {
    const res = await api("/api/burden");
    for (const [key, [title, name]] of Object.entries(BURDEN)) {
      const rows = res[key] || [];
      chart("burden-" + key, $(`#chart-burden-${key}`)).setOption({
        title: {text: `${title}：未发现问题比例与一年内重复检查比例`, textStyle: {fontSize: 13}}, tooltip: {trigger: "axis", valueFormatter: (v) => v + "%"},
        legend: {bottom: 0}, grid: {left: 50, right: 20, top: 50, bottom: 75},
        xAxis: {type: "category", data: rows.map((r) => name(r[key]) + `（${r.inspections} 次）`)}, yAxis: {type: "value", name: "%", max: 100},
        series: [{name: "未发现问题比例", type: "bar", data: rows.map((r) => +(100 * r.no_finding_rate).toFixed(1))},
                 {name: "一年内重复检查比例", type: "bar", data: rows.map((r) => +(100 * r.repeat_rate).toFixed(1))}],
      }, true);
    }
  } catch (e) { say("无法读取检查负担：" + e.message, true); }
}

const CALIBRATION_ZH = {platt: "Platt 逻辑校准", beta: "Beta 校准", isotonic: "保序回归校准"};
function renderModel() {
  const m = me.model || {};
  const rows = [["模型", `${m.model_name || ""} v${me.model_version}`], ["训练时间", (m.trained_at || "").replace("T", " ").slice(0, 19)],
                ["训练数据截至", m.snapshot_as_of], ["特征窗口", m.window_months ? `${m.window_months} 个月` : ""],
                ["训练样本（检查记录）", m.n_examples != null ? `${m.n_examples} 次，其中严重问题 ${m.n_serious} 次` : ""],
                ["概率校准方法", CALIBRATION_ZH[m.calibration] || m.calibration],
                ["回测：名单前列追回金额占最优可能的比例（各轮平均）", m.backtest_objective != null ? fmtPct(m.backtest_objective) : ""],
                ["规则库版本", m.rules_version], ["特征声明版本", m.declaration_version], ["MLflow 运行编号", m.run_id],
                ["服务中的特征快照", me.snapshot_id], ["数据截至", me.as_of], ["地区数", me.regions.length],
                ["机构类型", me.types.map((v) => label("type", v)).join("、")]];
  $("#model-card").innerHTML = rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
}

// --- suspected rings (疑似团伙): facilities sharing insured persons' cards (features/rings, serving/rings.py) ---
let ringOpen = null; // id of the ring shown below the list
const RING_KINDS = [ // the graph's categories: facilities by type, then physicians (colour and shape both differ)
  {name: "诊所", symbol: "circle", itemStyle: {color: "#1f6feb"}},
  {name: "药店", symbol: "diamond", itemStyle: {color: "#2f9e44"}},
  {name: "医院", symbol: "rect", itemStyle: {color: "#b45309"}},
  {name: "医师", symbol: "triangle", itemStyle: {color: "#7b8794"}},
];
function ringKind(m) { return m.kind === "physician" ? 3 : m.fixmedins_type === "clinic" ? 0 : m.fixmedins_type === "pharmacy" ? 1 : 2; }
function ringValue(f) {
  if (f.value == null) return "—";
  if (f.unit === "%") return fmtPct(f.value);
  if (f.unit === "元") return `${fmtYuan(f.value)} 元`;
  if (f.unit === "比值") return Number(f.value).toFixed(2);
  return `${Math.round(f.value).toLocaleString("zh-CN")} ${f.unit || ""}`.trim();
}
function facilityLink(code, name) {
  return `<a href="/ui/facility/${encodeURIComponent(code)}" data-facility="${esc(code)}">${esc(name || code)}</a>`;
}

async function loadRings() {
  if (!may("explain")) return;
  try {
    const res = await api("/api/rings", {limit: 100});
    $("#rings-table tbody").innerHTML = res.rings.map((r) => `<tr data-ring="${esc(r.ring_id)}" tabindex="0"${r.ring_id === ringOpen ? ' aria-current="true"' : ""}>
      ${cell("团伙编号", `<b>${esc(r.ring_id)}</b>`, "nowrap")}${cell("成员机构", (r.names || r.facilities).map((n) => esc(n)).join("、"))}
      ${cell("团伙得分", fmtPct(r.score), "num")}${cell("预计追回（元）", fmtYuan(r.expected_recovery), "num")}${cell("关联理由", esc(r.reason_zh), "why")}</tr>`).join("");
    $("#rings-table").hidden = !res.rings.length;
    $("#rings-summary").textContent = res.rings.length
      ? `共 ${res.n} 个疑似团伙${res.n > res.rings.length ? `（列出前 ${res.rings.length} 个）` : ""}。${res.ranking_zh || ""}。选中一行查看团伙关系图、成员与证据。`
      : "当前数据中没有发现疑似团伙。";
  } catch (e) { $("#rings-table").hidden = true; say("无法读取疑似团伙：" + e.message, true); }
}

function closeRing() {
  ringOpen = null; $("#ring-view").hidden = true;
  if (charts.ring) { charts.ring.dispose(); delete charts.ring; }
}

async function openRing(id) {
  ringOpen = id;
  for (const tr of $$("#rings-table tbody tr")) { if (tr.dataset.ring === id) tr.setAttribute("aria-current", "true"); else tr.removeAttribute("aria-current"); }
  if (location.pathname === "/ui/" && location.hash !== `#ring=${id}`) history.replaceState(history.state, "", `/ui/#ring=${id}`);
  try {
    const g = await api("/api/ring", {ring_id: id});
    if (ringOpen !== id) return;
    renderRing(g);
    $("#ring-view").hidden = false;
    ringGraph(g);
    $("#ring-title").focus();
    if (may("evidence")) await loadRingEvidence(id);
  } catch (e) { if (ringOpen === id) { closeRing(); say("无法打开疑似团伙：" + e.message, true); } }
}

function renderRing(g) {
  const fac = g.members.filter((m) => m.kind === "facility");
  const docs = g.members.filter((m) => m.kind === "physician");
  const names = Object.fromEntries(fac.map((m) => [m.code, m.name]));
  $("#ring-title").textContent = `疑似团伙 ${g.ring_id}：${fac.length} 家机构、${docs.length} 名医师`;
  $("#ring-reason").textContent = g.reason_zh;
  $("#ring-boxes").innerHTML = [["团伙得分", fmtPct(g.score), "成员中最高的严重问题概率"], ["预计追回（元）", fmtYuan(g.expected_recovery), "团伙得分 × 各成员查实时追回之和"]]
    .map(([k, v, n]) => `<div class="box"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div><div class="k">${esc(n)}</div></div>`).join("");
  $("#ring-features tbody").innerHTML = g.features.map((f) => `<tr>${cell("特征", esc(f.label))}${cell("取值", esc(ringValue(f)), "num")}</tr>`).join("");
  $("#ring-members tbody").innerHTML = [...fac, ...docs].map((m) => `<tr>
    ${cell("类别", m.kind === "facility" ? "机构" : "医师", "nowrap")}
    ${cell("名称", m.kind === "facility" ? facilityLink(m.code, m.name) : `${esc(m.code)}（${facilityLink(m.fixmedins_code, names[m.fixmedins_code])}）`)}
    ${cell("机构类型", m.kind === "facility" ? esc(label("type", m.fixmedins_type)) : "—")}
    ${cell("共用参保人就诊（次）", fmtYuan(m.pool_visits), "num")}${cell("共用参保人基金支付（元）", fmtYuan(m.pool_fund), "num")}
    ${cell("严重问题概率", m.kind === "facility" ? fmtPct(m.p_serious) : "—", "num")}${cell("预计追回（元）", m.kind === "facility" ? fmtYuan(m.expected_recovery) : "—", "num")}</tr>`).join("");
  $("#ring-evidence tbody").innerHTML = ""; $("#ring-evidence-summary").textContent = "";
  $("#ring-view").dataset.names = JSON.stringify(names);
}

function ringGraph(g) {
  const el = $("#chart-ring");
  const narrow = el.clientWidth < 600; // a phone: a tighter layout, labels wrapped, no zoom or pan
  const fac = g.members.filter((m) => m.kind === "facility");
  const names = Object.fromEntries(fac.map((m) => [m.code, m.name]));
  const most = Math.max(1, ...fac.map((m) => m.pool_fund || 0));
  const nodes = g.members.map((m) => ({
    id: `${m.kind}:${m.code}`, name: m.kind === "facility" ? m.name : m.code, category: ringKind(m),
    symbolSize: m.kind === "facility" ? (narrow ? 16 : 26) * (1 + Math.sqrt((m.pool_fund || 0) / most)) : narrow ? 11 : 14,
    label: {show: m.kind === "facility"}, member: m,
  }));
  const pay = Math.max(1, ...g.edges.map((e) => e.fund_pay || 0));
  const links = g.edges.map((e) => ({
    source: `facility:${e.a}`, target: `facility:${e.b}`, edge: e,
    lineStyle: e.kind === "trace" ? {width: 2, type: "dashed", color: "#8a1c12"} : {width: (narrow ? 1 : 1.5) + (narrow ? 5 : 8) * (e.fund_pay || 0) / pay, color: "#52606d", opacity: 0.8},
  })).concat(g.members.filter((m) => m.kind === "physician").map((m) => ({
    source: `physician:${m.code}`, target: `facility:${m.fixmedins_code}`, doctor: m, lineStyle: {width: 1, color: "#9aa5b1", type: "dotted"},
  })));
  const tip = (p) => {
    if (p.dataType === "node") {
      const m = p.data.member;
      return m.kind === "facility"
        ? `<b>${esc(m.name)}</b><br>${esc(label("type", m.fixmedins_type))} · 严重问题概率 ${fmtPct(m.p_serious)}<br>共用参保人就诊 ${fmtYuan(m.pool_visits)} 次，基金支付 ${fmtYuan(m.pool_fund)} 元`
        : `医师 <b>${esc(m.code)}</b>（${esc(names[m.fixmedins_code] || m.fixmedins_code)}）<br>记账共用参保人就诊 ${fmtYuan(m.pool_visits)} 次，基金支付 ${fmtYuan(m.pool_fund)} 元`;
    }
    const e = p.data.edge;
    if (!e) { const m = p.data.doctor; return `医师 ${esc(m.code)} 在 ${esc(names[m.fixmedins_code] || m.fixmedins_code)} 执业`; }
    const pair = `${esc(names[e.a] || e.a)} — ${esc(names[e.b] || e.b)}`;
    return e.kind === "trace" ? `${pair}<br>药品追溯码重复结算 ${esc(e.codes)} 个`
      : `${pair}<br>共用参保人 ${esc(e.persons)} 人 · 集中就诊 ${esc(e.burst_days)} 天<br>共用参保人基金支付 ${fmtYuan(e.fund_pay)} 元`;
  };
  chart("ring", el).setOption({
    tooltip: {formatter: tip, confine: true},
    legend: {bottom: 0, data: RING_KINDS.map((k) => k.name)},
    animationDurationUpdate: 300,
    // the layout computed at once (a ring is a few nodes); zoom and pan on wide screens only, where they
    // do not take a phone's scrolling away
    series: [{type: "graph", layout: "force", roam: !narrow, draggable: true, top: 20, bottom: 40,
              force: narrow ? {repulsion: 450, edgeLength: [70, 110], gravity: 0.1, layoutAnimation: false}
                : {repulsion: 900, edgeLength: [110, 200], gravity: 0.08, layoutAnimation: false},
              categories: RING_KINDS,
              label: {position: "right", fontSize: narrow ? 11 : 12, formatter: "{b}", width: narrow ? 70 : 180, overflow: "break"}, emphasis: {focus: "adjacency", lineStyle: {width: 6}},
              data: nodes, links}],
  }, true);
}

async function loadRingEvidence(id) {
  const res = await api("/api/ring/evidence", {ring_id: id, limit: 50});
  if (ringOpen !== id) return;
  const names = JSON.parse($("#ring-view").dataset.names || "{}");
  $("#ring-evidence tbody").innerHTML = res.rows.map((r) => `<tr>
    ${cell("就诊日期", esc(String(r.visit_day || "").slice(0, 10)))}${cell("机构", esc(names[r.fixmedins_code] || r.fixmedins_code))}
    ${cell("医师", esc(r.atddr_no || "—"))}${cell("参保人（假名）", `<span title="${esc(r.psn_no)}">${esc(String(r.psn_no || "").slice(0, 12))}…</span>`)}
    ${cell("基金支付（元）", fmtYuan(r.fund_pay), "num")}${cell("就诊编号", esc(r.mdtrt_id))}</tr>`).join("")
    || `<tr><td colspan="6">没有证据就诊记录。</td></tr>`;
  $("#ring-evidence-summary").textContent = res.n > res.rows.length
    ? `共 ${res.n} 条共用参保人在成员机构的就诊，基金支付多的在前，这里列出前 ${res.rows.length} 条；下载证据清单查看全部。`
    : `共 ${res.n} 条共用参保人在成员机构的就诊，基金支付多的在前。`;
}

// --- wiring ---------------------------------------------------------------------------------------------
// --- cases: from a saved round to closed (records/cases.py declares the steps and who may take them) ---
let caseStates = {};
let openCaseId = null;
let pendingStep = null; // the step whose fields the form asks for

async function loadCases(ev) {
  if (ev) ev.preventDefault();
  if (!may("cases")) return;
  try {
    const res = await api("/api/cases/list", {round_id: $("#case-round").value || null, state: $("#case-state").value || null,
                                              member: $("#case-member").value.trim() || null, overdue: $("#case-overdue").checked});
    caseStates = res.states;
    const keep = $("#case-state").value;
    $("#case-state").innerHTML = `<option value="">（全部）</option>` + Object.entries(caseStates).map(([k, v]) =>
      `<option value="${esc(k)}">${esc(v)}</option>`).join("");
    $("#case-state").value = keep;
    $("#case-table tbody").innerHTML = res.cases.map((c) => `<tr data-case="${esc(c.case_id)}" tabindex="0">
      ${cell("案件编号", esc(c.case_id))}${cell("机构", `<b>${esc(c.fixmedins_name || c.fixmedins_code)}</b>`)}
      ${cell("状态", `<span class="state${c.overdue ? " overdue" : ""}">${esc(c.state_zh)}${c.overdue ? (c.overdue === "rectification" ? "（整改逾期）" : "（检查逾期）") : ""}</span>`)}
      ${cell("检查组", esc((c.team || []).join("、") || "—"))}${cell("检查期间", c.window_begin ? `${esc(c.window_begin)} 至 ${esc(c.window_end)}` : "—")}
      ${cell("整改期限", esc(c.due_date || "—"))}</tr>`).join("");
    $("#case-table").hidden = res.cases.length === 0;
    $("#case-summary").textContent = res.cases.length ? `共 ${res.n} 件。选中一行查看办理过程与疑点核查。` : "没有符合条件的案件。";
  } catch (e) { say("案件查询失败：" + e.message, true); }
}

async function openCases() {
  const rid = $("#case-round").value;
  if (!rid || rid === "outside") { say("请先选择检查批次。", true); return; }
  try {
    const res = await api("/api/cases/open", {round_id: rid});
    say(`已为检查批次 ${rid} 开立 ${res.case_ids.length} 件案件。`);
    await loadCases();
  } catch (e) { say("开立案件失败：" + e.message, true); }
}

async function openCase(id) {
  try {
    const c = await api("/api/case", {case_id: id});
    openCaseId = id;
    renderCase(c);
    $("#case-view").hidden = false;
    $("#case-title").focus();
    if (may("evidence")) await loadLines(c); else { $("#case-lines tbody").innerHTML = ""; $("#case-tally").textContent = "查看疑点清单需要监督检查权限。"; }
  } catch (e) { say("无法打开案件：" + e.message, true); }
}

function renderCase(c) {
  openCaseCode = c.fixmedins_code;
  $("#case-title").textContent = `${c.case_id} · ${c.fixmedins_name || c.fixmedins_code}`;
  const o = c.outside;
  $("#case-facts").innerHTML = [["状态", c.state_zh + (c.overdue ? "（逾期）" : "")],
    ["来源", o ? `${o.batch}（${label("selection", o.selection)}）：${o.reason}` : `检查批次 ${c.round_id} 第 ${c.rank} 家`],
    ["检查组", (c.team || []).join("、") || "—"],
    ["检查期间", c.window_begin ? `${c.window_begin} 至 ${c.window_end}` : "—"], ["整改期限", c.due_date || "—"]]
    .map(([k, v]) => `<div class="box"><div class="k">${k}</div><div class="v">${esc(v)}</div></div>`).join("");
  const steps = c.next.filter((t) => may(t.right));
  $("#case-actions").innerHTML = steps.map((t) => `<button type="button" data-target="${esc(t.target)}">${esc(t.label)}</button>`).join("")
    || `<span class="note">${c.next.length ? "下一步由其他角色办理：" + c.next.map((t) => esc(t.label)).join("、") : "已结案。"}</span>`;
  for (const b of $$("#case-actions button")) b.addEventListener("click", () => askStep(steps.find((t) => t.target === b.dataset.target)));
  const notices = [["decision", "处理决定书", ["decided", "rectification_due", "followed_up", "closed"]],
                   ["rectification", "整改通知书", ["rectification_due", "followed_up", "closed"]]]
    .filter(([kind, , states]) => states.includes(c.state) && (kind !== "rectification" || c.due_date));
  $("#case-notices").innerHTML = notices.map(([kind, name]) => `<button type="button" data-kind="${kind}">下载${name}（PDF）</button>`).join("");
  for (const b of $$("#case-notices button")) b.addEventListener("click", (e) => download(e.currentTarget,
    `/ui/download/case_notice/${encodeURIComponent(c.case_id)}?kind=${b.dataset.kind}`, null, `${c.case_id}_${b.textContent.replace(/^下载|（PDF）$/g, "")}.pdf`, "GET"));
  $("#case-step").hidden = true;
  $("#case-timeline").innerHTML = c.timeline.map((e) => `<li><b>${esc(e.target_zh)}</b> · ${esc(e.by)}（${esc(ROLES_ZH[e.role] || e.role)}） · ${esc(new Date(e.at).toLocaleString("zh-CN"))}${e.note ? " · " + esc(e.note) : ""}</li>`).join("");
}
const ROLES_ZH = {planner: "检查计划员", supervisor: "监督检查员", admin: "管理员", analyst: "数据分析员"};

function askStep(step) {
  const needs = new Set(step.needs);
  if (step.target === "decided") needs.add("decision");
  pendingStep = step;
  for (const l of $$("#case-step [data-need]")) l.hidden = !needs.has(l.dataset.need);
  if (needs.has("decision")) loadPoints();
  $("#case-step-submit").textContent = "确认" + step.label;
  $("#case-step").hidden = false;
  const first = $("#case-step label:not([hidden]) input, #case-step label:not([hidden]) select");
  if (first) first.focus();
}

async function submitStep(ev) {
  ev.preventDefault();
  const f = new FormData($("#case-step"));
  const t = pendingStep;
  const body = {case_id: openCaseId, target: t.target, note: f.get("note") || null};
  if (t.needs.includes("team")) body.team = String(f.get("team") || "").split(/[、,，\s]+/).filter(Boolean);
  for (const k of ["window_begin", "window_end", "due_date"]) if (t.needs.includes(k)) body[k] = f.get(k) || null;
  if (t.target === "decided") {
    body.decision = {amount_recovered: Number(f.get("amount_recovered") || 0), fine_amount: Number(f.get("fine_amount") || 0),
                     agreement_action: f.get("agreement_action") || "none", referral: f.get("referral") === "on",
                     violation_types: f.getAll("case_violation").join(";") || null, insp_date: f.get("insp_date") || null,
                     points: $$("#case-points input").filter((i) => i.value !== "").map((i) => ({dr_code: i.dataset.dr, points: Number(i.value)}))};
  }
  try {
    const c = await api("/api/cases/move", body);
    renderCase(c);
    $("#case-step").reset();
    say(`案件 ${c.case_id}：${t.label}，现为「${c.state_zh}」。`);
    if (may("evidence")) await loadLines(c);
    loadCases();
  } catch (e) { say(`${t.label}未完成：${e.message}`, true); }
}

let openCaseCode = null;
async function loadPoints() {
  // the facility's physicians, most exposed first: the decision may give each of them points (记分)
  const box = $("#case-points");
  box.innerHTML = "";
  const code = openCaseCode;
  if (!may("explain") || !code) return;
  try {
    const x = await api("/api/explain", {code});
    if (code !== openCaseCode) return; // another case was opened meanwhile: its own request fills the form
    box.innerHTML = (x.physicians || []).map((d) => `<label>${esc(d.dr_code)} ${esc(d.dept || "")}（已记分 ${d.points_total ?? 0} 分）
      <input type="number" min="1" max="12" step="1" data-dr="${esc(d.dr_code)}" inputmode="numeric"></label>`).join("") || "<p>本机构无医师数据。</p>";
  } catch (e) { box.textContent = "无法读取本机构医师：" + e.message; }
}

async function loadLines(c) {
  const res = await api("/api/case/lines", {case_id: c.case_id});
  const editable = may("case_work") && ["on_site", "findings_drafted"].includes(c.state);
  $("#case-lines tbody").innerHTML = res.lines.map((l) => `<tr data-line="${esc(l.line_key)}">
    ${cell("规则", esc(l.rule_id))}${cell("就诊 / 明细", esc(l.feedetl_sn || l.mdtrt_id || "—"))}${cell("涉及金额（元）", fmtYuan(l.amount_at_risk), "num")}
    ${cell("疑点说明", esc(l.reason), "why")}
    ${cell("核查结论", editable ? `<span class="verdict">${["confirmed", "rejected", "unchecked"].map((v) =>
      `<button type="button" data-verdict="${v}" aria-pressed="${l.verdict === v}">${esc(res.verdicts[v])}</button>`).join("")}</span>` : esc(l.verdict_zh))}</tr>`).join("");
  tally(res.summary);
  $("#case-lines").dataset.shows = `${c.case_id}:${c.state}`; // which case's worklist, in which state
  for (const b of $$("#case-lines button[data-verdict]")) b.addEventListener("click", () => markLine(b.closest("tr").dataset.line, b.dataset.verdict));
}

function tally(t) {
  $("#case-tally").textContent = `共 ${t.n_lines} 条疑点：属实 ${t.n.confirmed} 条，不属实 ${t.n.rejected} 条，未核查 ${t.n.unchecked} 条；认定金额 ${fmtYuan(t.amount_confirmed)} 元（涉及 ${fmtYuan(t.amount_at_risk)} 元）。`;
}

async function markLine(key, verdict) {
  try {
    const t = await api("/api/case/lines/mark", {case_id: openCaseId, marks: [{line_key: key, verdict}]});
    for (const b of $$(`#case-lines tr[data-line="${CSS.escape(key)}"] button[data-verdict]`)) b.setAttribute("aria-pressed", String(b.dataset.verdict === verdict));
    tally(t);
  } catch (e) { say("核查结论未保存：" + e.message, true); }
}

function toggleOutside(open) {
  $("#outside-form").hidden = !open;
  $("#new-outside").setAttribute("aria-expanded", String(open));
  if (open) $("#outside-form input[name=fixmedins_code]").focus();
}

async function openOutside(ev) {
  ev.preventDefault();
  const body = Object.fromEntries(new FormData($("#outside-form")).entries());
  try {
    const c = await api("/api/cases/outside", body);
    say(`已开立批次外检查案件 ${c.case_id}（${c.fixmedins_name || c.fixmedins_code}）。`);
    $("#outside-form").reset(); toggleOutside(false);
    $("#case-round").value = "outside";
    await loadCases();
    await openCase(c.case_id);
  } catch (e) { say("开立案件失败：" + e.message, true); }
}

// --- rule quality: what the inspectors' verdicts say of each rule (records/worklist.py) -------------
async function loadQuality(ev) {
  if (ev) ev.preventDefault();
  if (!may("rule_quality")) return;
  try {
    const byQuarter = $("#quality-by-quarter").checked;
    const res = await api("/api/rules/quality", {by_type: $("#quality-by-type").checked, by_quarter: byQuarter});
    $("#quality-min").textContent = res.review_min_checked;
    $("#quality-max").textContent = fmtPct(res.review_max_confirmed);
    const byType = $("#quality-by-type").checked;
    $("#quality-table tbody").innerHTML = res.rules.map((r) => `<tr${r.review ? ' class="flagged"' : ""}>
      ${cell("规则", `<b>${esc(r.name_zh)}</b> <span class="code">${esc(r.rule_id)}</span>`)}${cell("机构类型", byType ? esc(r.fixmedins_type_zh) : "全部")}${cell("检查季度", byQuarter ? esc(r.quarter) : "全部")}
      ${cell("已核查（条）", r.checked, "num")}${cell("属实（条）", r.confirmed, "num")}${cell("属实比例", fmtPct(r.confirmed_share), "num")}
      ${cell("核查涉及金额（元）", fmtYuan(r.amount_checked), "num")}${cell("认定金额（元）", fmtYuan(r.amount_confirmed), "num")}
      ${cell("结论", r.review ? "<b>需复核</b>" : r.checked < res.review_min_checked ? "核查不足" : "正常")}</tr>`).join("");
    $("#quality-table").hidden = !res.rules.length;
    const flagged = res.rules.filter((r) => r.review).length;
    $("#quality-summary").textContent = res.rules.length ? `${res.rules.length} 行；需复核 ${flagged} 行。当前数据所用规则库版本 ${res.rules_version}${res.workspace_rules_version !== res.rules_version ? `；已调整为 ${res.workspace_rules_version}，下次生成特征快照时生效` : ""}。` : "尚无核查过的疑点：在案件的疑点清单中逐条登记核查结论后，这里显示各规则的属实比例。";
    $("#rule-changes tbody").innerHTML = res.changes.map((c) => `<tr>${cell("版本", esc(c.version))}${cell("规则", esc(c.rule_id))}
      ${cell("变更内容", esc(c.summary_zh))}${cell("原因", esc(c.reason))}${cell("变更人", esc(c.by))}${cell("时间", esc(String(c.at).replace("T", " ").slice(0, 19)))}</tr>`).join("")
      || `<tr><td colspan="6">规则参数未曾调整（规则库版本 ${esc(res.rules_version)}）。</td></tr>`;
  } catch (e) { say("无法读取规则质量：" + e.message, true); }
}

function rowKeys(table) {
  const open = (tr) => tr && tr.dataset.code && openDetail(tr.dataset.code, tr);
  table.addEventListener("click", (e) => open(e.target.closest("tr")));
  table.addEventListener("keydown", (e) => {
    const tr = e.target.closest("tr");
    if (!tr) return;
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(tr); }
    if (e.key === "ArrowDown" && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    if (e.key === "ArrowUp" && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  });
}

$("#who").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem("feijian-token", $("#token").value.trim()); signIn(); });
$("#sign-out").addEventListener("click", signOut);
for (const b of $$("#tabs button")) b.addEventListener("click", () => { closeDetail(); show(b.dataset.view); });
$("#filters").addEventListener("submit", plan);
$("#search-form").addEventListener("submit", search);
rowKeys($("#plan-table tbody")); rowKeys($("#search-table tbody"));
$("#close-detail").addEventListener("click", () => closeDetail());
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#detail").hidden) closeDetail(); });
window.addEventListener("popstate", () => {
  const m = location.pathname.match(FACILITY_PATH);
  if (m && may("explain")) openDetail(decodeURIComponent(m[1]), null, false); else if (!$("#detail").hidden) closeDetail(false);
});
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
$("#dl-plan").addEventListener("click", (e) => download(e.currentTarget, "/ui/download/plan", planRequest(), "检查计划.xlsx"));
$("#dl-round").addEventListener("click", (e) => download(e.currentTarget, "/ui/download/round_report", planRequest(), "检查计划报告.pdf"));
$("#dl-facility").addEventListener("click", (e) => download(e.currentTarget, `/ui/download/facility_report/${encodeURIComponent(current)}?fmt=pdf`, null, `${current}_报告.pdf`, "GET"));
$("#dl-evidence").addEventListener("click", (e) => download(e.currentTarget, `/ui/download/evidence/${encodeURIComponent(current)}`, null, `${current}_疑点清单.xlsx`, "GET"));
$("#save-round").addEventListener("click", saveRound);
$("#open-round").addEventListener("click", openRound);
$("#finding-form").addEventListener("submit", saveFinding);
$("#case-filters").addEventListener("submit", loadCases);
$("#open-cases").addEventListener("click", openCases);
$("#case-step").addEventListener("submit", submitStep);
$("#new-outside").addEventListener("click", () => toggleOutside($("#outside-form").hidden));
$("#outside-cancel").addEventListener("click", () => toggleOutside(false));
$("#outside-form").addEventListener("submit", openOutside);
$("#quality-form").addEventListener("submit", loadQuality);
$("#case-step-cancel").addEventListener("click", () => { $("#case-step").hidden = true; });
$("#rings-table").addEventListener("click", (e) => { const tr = e.target.closest("tr[data-ring]"); if (tr) openRing(tr.dataset.ring); });
$("#rings-table").addEventListener("keydown", (e) => {
  const tr = e.target.closest("tr[data-ring]");
  if (!tr) return;
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openRing(tr.dataset.ring); }
  if (e.key === "ArrowDown" && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
  if (e.key === "ArrowUp" && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
});
$("#dl-ring-evidence").addEventListener("click", (e) => download(e.currentTarget, `/ui/download/ring_evidence/${encodeURIComponent(ringOpen)}`, null, `${ringOpen}_团伙证据清单.xlsx`, "GET"));
// links inside the page (a ring's members, a facility's ring) open in place; with a modifier key, as links do
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-facility], a[data-ring]");
  if (!a || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  if (a.dataset.facility) { openDetail(a.dataset.facility, a); return; }
  closeDetail(); show("rings"); openRing(a.dataset.ring);
});
$("#case-table").addEventListener("click", (e) => { const tr = e.target.closest("tr[data-case]"); if (tr) openCase(tr.dataset.case); });
$("#case-table").addEventListener("keydown", (e) => { const tr = e.target.closest("tr[data-case]"); if (tr && e.key === "Enter") openCase(tr.dataset.case); });
applyRights();
if (token()) { $("#token").value = token(); signIn(); }
