// feijian planners' page: keeps the token in this tab only, calls the JSON API with it.
"use strict";
const $ = (s) => document.querySelector(s);
let current = null; // code of the facility in the detail panel
let saved = null; // the round saved from this page: {round_id, rank: {code → rank}}
let labels = {type: {}, level: {}, ownership: {}}; // code → Chinese, from /api/info

function token() { return sessionStorage.getItem("feijian-token") || ""; }
function say(msg, error = false) { const f = $("#status"); f.textContent = msg; f.className = error ? "error" : ""; }
// A calibrated probability from a few hundred findings is not known to the decimal at its ends.
// one decimal, two below 10 %: the same rule as the reports' `pct` (serving/reports/render.py)
function fmtPct(p) { return p == null ? "—" : (100 * p).toFixed(p > 0 && p < 0.1 ? 2 : 1) + "%"; }
function fmtRank(v) { return v == null ? "—" : Math.round(v); }
function fmtYuan(v) { return v == null ? "—" : Math.round(v).toLocaleString("zh-CN"); }
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }

async function api(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token()}, body: JSON.stringify(body ?? {})});
  const text = await r.text();
  let data; try { data = JSON.parse(text); } catch { data = {error: text}; }
  if (!r.ok) { throw new Error(`${r.status}：${data.error || data.detail || text}`); }
  return data;
}

async function download(path, body, filename, method = "POST") {
  const opts = {method, headers: {"Authorization": "Bearer " + token()}};
  if (method === "POST") { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  if (!r.ok) { say(`下载失败 ${r.status}：${await r.text()}`, true); return; }
  const blob = await r.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = filename; a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  say(`已下载 ${filename}`);
}

function selected(id) { return Array.from($(id).selectedOptions).map((o) => o.value); }
function planRequest() {
  return {capacity: Number($("#capacity").value), regions: selected("#regions"), types: selected("#types"),
          exclude_days: Number($("#exclude_days").value), exploration_share: Number($("#exploration").value)};
}

async function loadInfo() {
  try {
    const info = await api("/api/info");
    $("#info").textContent = `模型 v${info.model_version} · 数据截至 ${info.as_of}`;
    labels = info.labels || labels;
    $("#regions").innerHTML = info.regions.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("");
    $("#types").innerHTML = info.types.map((v) => `<option value="${esc(v)}">${esc(labels.type[v] || v)}</option>`).join("");
    say("令牌有效，可以生成检查计划。");
    loadRounds();
  } catch (e) { say("令牌无效或无权限：" + e.message, true); }
}

async function loadRounds() {
  try {
    const res = await api("/api/rounds/list");
    $("#rounds").innerHTML = `<option value="">（请选择）</option>` + res.rounds.map((r) =>
      `<option value="${esc(r.round_id)}">${esc(r.round_id)} · ${esc(r.as_of)} · ${r.n_picks} 家${r.status === "superseded" ? "（已被替代）" : ""}</option>`).join("");
  } catch (e) { $("#rounds-box").hidden = true; } // a role without the right to read rounds
}

function renderTargets(targets) {
  $("#plan-table tbody").innerHTML = targets.map((t) => `<tr data-code="${esc(t.fixmedins_code)}">
      <td class="num">${t.rank}</td><td>${esc(t.fixmedins_name || t.name || t.fixmedins_code)}</td><td>${esc(t.admdvs)}</td>
      <td>${esc(labels.type[t.fixmedins_type] || t.fixmedins_type)}</td><td>${esc(labels.level[t.hosp_lv] || t.hosp_lv)}</td><td class="num">${fmtPct(t.p_serious)}</td>
      <td class="num">${fmtYuan(t.expected_recovery)}</td><td>${esc((t.top_reasons || t.reasons || []).slice(0, 2).join("；"))}</td>
      <td><span class="badge ${t.pick}">${t.pick === "exploration" ? "随机探索" : "模型"}</span>${t.flag ? `<br><b class="flag">${esc(t.flag)}</b>` : ""}</td></tr>`).join("");
}

async function openRound() {
  const id = $("#rounds").value;
  if (!id) return;
  try {
    const r = await api("/api/round", {round_id: id});
    saved = {round_id: r.round_id, rank: Object.fromEntries(r.picks.map((p) => [p.fixmedins_code, p.rank]))};
    renderTargets(r.picks);
    $("#plan-summary").textContent = `检查批次 ${r.round_id}：计划日期 ${r.as_of}，共 ${r.picks.length} 家，预期追回合计 ${fmtYuan(r.expected_total)} 元` +
      (r.status === "superseded" ? `（已被 ${r.superseded_by} 替代）。` : "。");
    say("点击一行查看原因与证据，并登记检查结果。");
  } catch (e) { say("无法打开检查批次：" + e.message, true); }
}

async function plan() {
  say("正在生成检查计划…");
  try {
    const res = await api("/api/plan", planRequest());
    renderTargets(res.targets);
    const m = res.meta || {};
    const barred = (m.exclusions || {}).sanctioned || 0;
    $("#plan-summary").textContent = `共 ${res.targets.length} 家，预期追回合计 ${fmtYuan(m.expected_total)} 元。${m.ranking_zh || ""}。`
      + (barred ? `已排除 ${barred} 家被解除或暂停协议的机构。` : "") + (m.n_flagged ? `${m.n_flagged} 家标注了协议处理情况。` : "");
    say("检查计划已生成。点击一行查看原因与证据。");
  } catch (e) { say("生成失败：" + e.message, true); }
}

function renderExplanation(x) {
  const reasons = (x.reasons || []).map((r) => {
    const ev = (r.evidence || []).map((e) => `${esc(e.name_zh)}（${esc(e.rule_id)}）${e.n_hits} 条，涉及 ${fmtYuan(e.amount_at_risk)} 元${e.n_covered ? `（其中 ${e.n_covered} 条在既往检查已覆盖期间，未覆盖 ${fmtYuan(e.amount_uncovered)} 元）` : ""}${e.article ? "，依据 " + esc(e.article) : ""}`);
    return `<div class="reason"><div>${esc(r.text)}</div>${ev.length ? `<div class="ev">证据：${ev.join("；")}</div>` : ""}</div>`;
  }).join("");
  const docs = (x.physicians || []).slice(0, 5).map((d) => `<li>${esc(d.dr_code)} ${esc(d.dept || "")} 预计涉险 ${fmtYuan(d.exposure)} 元 · 记分概率 ${fmtPct(d.p_risk)}（第 ${fmtRank(d.risk_percentile)} 百分位） · 规则命中 ${fmtYuan(d.rule_hit_amount)} 元</li>`).join("");
  const hist = (x.inspections || []).map((h) => `<li>${esc(h.insp_date)} ${esc(h.batch || "")} 追回 ${fmtYuan(h.amount_recovered)} 元</li>`).join("");
  const t = x.target || {}; const risk = x.risk || {};
  const iv = risk.expected_recovery_interval || []; const pv = risk.p_serious_interval || [];
  return `<h2>${esc(t.name || t.fixmedins_code)}</h2>
    <p>${esc(t.type_zh || t.fixmedins_type || "")} · ${esc(t.hosp_lv_zh || "")} · ${esc(t.ownership_zh || "")} · 统筹区 ${esc(t.admdvs || "")}</p>
    <p>严重问题概率 <b>${fmtPct(risk.p_serious)}</b>（${fmtPct(pv[0])}–${fmtPct(pv[1])}，第 ${fmtRank(risk.percentile)} 百分位） · 预期追回 <b>${fmtYuan(risk.expected_recovery)}</b> 元
    （${esc(risk.interval_label || "区间")} ${fmtYuan(iv[0])}–${fmtYuan(iv[1])}） · 模型 v${esc(x.model_version || "")} · 数据 ${esc(x.snapshot_id || "")}</p>
    <p class="note">${esc(risk.interval_basis || "")}</p>
    <h3>提示风险的原因</h3>${reasons || "<p>—</p>"}
    <h3>医师</h3><p class="note">${esc(x.physician_ranking_zh || "")}；${esc(x.p_risk_meaning_zh || "")}</p><ul>${docs || "<li>—</li>"}</ul>
    <h3>检查历史</h3><ul>${hist || "<li>无</li>"}</ul>`;
}

async function saveRound() {
  if (!confirm("保存为检查批次后不可修改，只能由新的批次替代。确定保存？")) return;
  say("正在保存检查批次…");
  try {
    const body = planRequest();
    if (saved && confirm(`新批次是否替代本页刚保存的批次 ${saved.round_id}？`)) body.supersedes = saved.round_id;
    const r = await api("/api/rounds", body);
    saved = {round_id: r.round_id, rank: Object.fromEntries(r.picks.map((p) => [p.fixmedins_code, p.rank]))};
    const shown = Array.from(document.querySelectorAll("#plan-table tbody tr")).map((tr) => tr.dataset.code);
    const same = shown.join() === r.picks.map((p) => p.fixmedins_code).join();
    $("#round-status").textContent = `已保存为检查批次 ${r.round_id}（${r.picks.length} 家，计划日期 ${r.as_of}）。` +
      "在机构详情中登记的检查结果将记入该批次。" + (same ? "" : "注意：保存时的名单与屏幕上的不同（期间有新的检查记录），请重新生成计划核对。");
    say(`检查批次 ${r.round_id} 已保存。`);
    loadRounds();
  } catch (e) { say("保存失败：" + e.message, true); }
}

function showPick() {
  const rank = saved && saved.rank[current];
  $("#finding-pick").hidden = !rank;
  $("#finding-pick").textContent = rank ? `记入检查批次 ${saved.round_id} 第 ${rank} 家：机构、检查期间与选取方式取自该批次。` : "";
  $("#finding-own").hidden = Boolean(rank); $("#finding-own").disabled = Boolean(rank);
}

async function openDetail(code) {
  current = code;
  showPick();
  $("#detail").hidden = false;
  $("#detail-body").innerHTML = "加载中…";
  try { $("#detail-body").innerHTML = renderExplanation(await api("/api/explain", {code})); }
  catch (e) { $("#detail-body").textContent = "无法加载：" + e.message; }
}

async function saveFinding(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = Object.fromEntries(f.entries());
  const rank = saved && saved.rank[current];
  if (rank) { body.round_id = saved.round_id; body.rank = rank; } else { body.fixmedins_code = current; }
  body.amount_recovered = Number(body.amount_recovered); body.fine_amount = Number(body.fine_amount);
  try { await api("/api/findings", body); $("#finding-status").textContent = "已保存"; }
  catch (e) { $("#finding-status").textContent = "保存失败：" + e.message; }
}

$("#save-token").addEventListener("click", () => { sessionStorage.setItem("feijian-token", $("#token").value.trim()); loadInfo(); });
$("#plan-btn").addEventListener("click", plan);
$("#plan-table tbody").addEventListener("click", (e) => { const tr = e.target.closest("tr"); if (tr) openDetail(tr.dataset.code); });
$("#close-detail").addEventListener("click", () => { $("#detail").hidden = true; });
$("#dl-plan").addEventListener("click", () => download("/ui/download/plan", planRequest(), "检查计划.xlsx"));
$("#dl-round").addEventListener("click", () => download("/ui/download/round_report", planRequest(), "检查计划报告.pdf"));
$("#dl-facility").addEventListener("click", () => download(`/ui/download/facility_report/${encodeURIComponent(current)}?fmt=pdf`, null, `${current}_报告.pdf`, "GET"));
$("#dl-evidence").addEventListener("click", () => download(`/ui/download/evidence/${encodeURIComponent(current)}`, null, `${current}_疑点清单.xlsx`, "GET"));
$("#save-round").addEventListener("click", saveRound);
$("#open-round").addEventListener("click", openRound);
$("#finding-form").addEventListener("submit", saveFinding);
if (token()) { $("#token").value = token(); loadInfo(); }
