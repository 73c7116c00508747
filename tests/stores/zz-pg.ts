import pg from "pg";
const c = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" }); await c.connect();
const schema = "aesp_pgx_" + Math.random().toString(36).slice(2, 8);
await c.query(`create schema ${schema}; set search_path=${schema}`);
await c.query(`create table ev (seq bigint primary key, event_id text not null, timestamp_ms bigint not null, event_type text not null, tenant_id text not null, principal_id text not null, session_id text not null, resource text not null, action text not null, outcome text not null, source_ip text not null, user_agent text not null, correlation_id text not null, risk_score text not null, policy_violations json not null, metadata json not null, leaf_hash text not null, chain_hash text not null)`);
if (!process.env.NOIDX) await c.query(`create index on ev (tenant_id, seq); create index on ev (tenant_id, timestamp_ms)`);
const H = "ab".repeat(32);
let seq = 0;
function row(i: number) { return [seq++, `evt_${i}`, 1700000000000 + i, "tool.invoked", `tenant_${i % 8}`, `usr_${i % 97}`, `ses_${i%1013}`, "contract:get_weather@1.0.0", "invoke", "SUCCESS", "127.0.0.1", "aesp-bench/1.0", `cor_${i}`, "0.1", "[]", JSON.stringify({ runtime_id: "rt_weather", duration_ms: "3", cost_units: "1" }), H, H]; }
const N = 1000, B = 20;
// multi-values
let text = "insert into ev values " + Array.from({ length: N }, (_, r) => "(" + Array.from({ length: 18 }, (_, k) => `$${r * 18 + k + 1}`).join(",") + ")").join(",");
let t0 = performance.now(); let tq = 0;
for (let b = 0; b < B; b++) { const params = []; for (let i = 0; i < N; i++) params.push(...row(i)); await c.query("begin"); const q0 = performance.now(); await c.query(text, params); tq += performance.now() - q0; await c.query("commit"); }
console.log("multi-values", Math.round(N * B / (performance.now() - t0) * 1000), "ev/s; insert ms/batch", (tq / B).toFixed(1));
// unnest
const types = ["bigint","text","bigint","text","text","text","text","text","text","text","text","text","text","text","json","json","text","text"];
text = "insert into ev select * from unnest(" + types.map((t, k) => `$${k + 1}::${t}[]`).join(",") + ")";
t0 = performance.now(); tq = 0;
for (let b = 0; b < B; b++) { const cols: unknown[][] = types.map(() => []); for (let i = 0; i < N; i++) row(i).forEach((v, k) => cols[k]!.push(v)); await c.query("begin"); const q0 = performance.now(); await c.query(text, cols); tq += performance.now() - q0; await c.query("commit"); }
console.log("unnest", Math.round(N * B / (performance.now() - t0) * 1000), "ev/s; insert ms/batch", (tq / B).toFixed(1));
// commit cost alone
t0 = performance.now();
for (let b = 0; b < 50; b++) { await c.query("begin"); await c.query("insert into ev (seq,event_id,timestamp_ms,event_type,tenant_id,principal_id,session_id,resource,action,outcome,source_ip,user_agent,correlation_id,risk_score,policy_violations,metadata,leaf_hash,chain_hash) values ($1,'e',1,'t','t','p','s','r','a','o','i','u','c','0','[]','{}','h','h')", [seq++]); await c.query("commit"); }
console.log("commit ms", ((performance.now() - t0) / 50).toFixed(2));
await c.query(`drop schema ${schema} cascade`); await c.end();
