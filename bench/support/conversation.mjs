// Deterministic, realistic LangGraph "messages" channel states for benchmarks.
// Why the text is generated this way: compression ratios are only meaningful on
// data with the entropy of real conversations. Random bytes do not compress at
// all and one repeated string compresses absurdly well, so both would mislead.
// Instead, sentences are drawn by a seeded PRNG (mulberry32) from a few hundred
// real English words, mixed with numbers, ids, file paths, code and JSON tool
// output, with varied lengths, and wrapped in real @langchain/core messages
// (tool calls, usage metadata, uuid-like ids) so the serialized envelope is
// exactly what a checkpointer stores. Same (count, seed) => same bytes, and a
// shorter conversation is a prefix of a longer one with the same seed.
import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { JsonPlusSerializer } from "@langchain/langgraph-checkpoint";

const WORDS = `the a an of to and in for on with from by as at is are was be can will should
would could may might must have has had do does not no yes this that these those it its we you
they our your their i me my he she one two three first last next each every some any all most
more less many few new old same other different good bad better best simple complex fast slow
small large quick easy hard clear full empty open closed main local remote public private
current previous final default custom data file files table tables row rows column index query
queries request response server client service services cluster node nodes database schema
migration migrations version release build test tests deploy deployment config configuration
setting settings value values key keys field fields record records user users account customer
customers order orders invoice payment payments price report reports metric metrics dashboard
alert alerts error errors warning issue issues bug fix patch change changes update updates log
logs event events message messages queue job jobs task tasks worker workers thread threads
process memory cache latency timeout retry limit rate traffic load peak week month quarter year
today yesterday morning afternoon evening team project plan goal summary result results answer
question problem solution approach option options step steps example detail details reason
because however therefore although while when where which what why how before after during
until since about between into through over under again further then once also only just still
already almost often usually probably likely actually really quite very too enough rather
check checked run ran use used make made find found look looked need needed want try tried
show shows showed see seen send sent read write wrote create created delete deleted add added
remove removed move moved keep kept return returned start started stop stopped call called
expect expected compare compared review reviewed suggest suggested recommend explain explained
increase increased decrease decreased improve improved reduce reduced handle handled support
supported happen happened seem seems appear appears agree note noted confirm confirmed`.split(/\s+/);
const CITIES = ["Berlin", "Lisbon", "Toronto", "Osaka", "Nairobi", "Denver", "Madrid", "Oslo"];
const TOOLS = ["search_docs", "run_sql", "get_weather", "read_file", "create_ticket"];
const TABLES = ["orders", "invoices", "customers", "events", "payments"];

function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeGen(seed) {
  const rnd = mulberry32(seed);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const hex = (n) => Array.from({ length: n }, () => "0123456789abcdef"[int(0, 15)]).join("");
  const b62 = (n) => Array.from({ length: n }, () => pick([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"])).join("");
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(["8", "9", "a", "b"])}${hex(3)}-${hex(12)}`;
  const token = () => {
    const r = rnd();
    if (r < 0.03) return String(int(2, 2000));
    if (r < 0.04) return `${int(1, 99)}.${int(0, 9)}%`;
    if (r < 0.05) return `#${int(100, 9999)}`;
    if (r < 0.057) return `src/${pick(WORDS)}/${pick(WORDS)}.ts`;
    if (r < 0.062) return `${pick(TABLES)}.${pick(WORDS)}_id`;
    return WORDS[Math.floor(WORDS.length * rnd() ** 2)]; // Zipf-like: function words (listed first) dominate
  };
  const sentence = () => {
    const words = Array.from({ length: int(5, 22) }, token);
    if (words.length > 9 && rnd() < 0.4) words[int(3, words.length - 3)] += ",";
    const s = words.join(" ");
    return s[0].toUpperCase() + s.slice(1) + pick([".", ".", ".", "?", "!"]);
  };
  const text = (minChars, maxChars) => {
    const target = int(minChars, maxChars);
    let out = sentence();
    while (out.length < target) out += (rnd() < 0.2 ? "\n\n" : " ") + sentence();
    return out;
  };
  const code = () => {
    const noun = pick(WORDS), fn = `${pick(WORDS)}${noun[0].toUpperCase()}${noun.slice(1)}`;
    return "```ts\n" + `export async function ${fn}(${pick(WORDS)}Id: string) {\n` +
      `  const rows = await db.query("SELECT * FROM ${pick(TABLES)} WHERE id = $1 LIMIT ${int(1, 500)}", [${pick(WORDS)}Id]);\n` +
      `  if (rows.length === 0) throw new Error("${sentence().slice(0, 40)}");\n  return rows.map((r) => r.${pick(WORDS)});\n}\n` + "```";
  };
  const toolArgs = (name) => ({
    search_docs: () => ({ query: Array.from({ length: int(2, 6) }, () => pick(WORDS)).join(" "), max_results: int(3, 10) }),
    run_sql: () => ({ sql: `SELECT ${pick(WORDS)}_id, count(*) FROM ${pick(TABLES)} WHERE created_at > now() - interval '${int(1, 30)} days' GROUP BY 1 ORDER BY 2 DESC LIMIT ${int(5, 50)}` }),
    get_weather: () => ({ city: pick(CITIES), units: pick(["metric", "imperial"]) }),
    read_file: () => ({ path: `src/${pick(WORDS)}/${pick(WORDS)}.ts`, start_line: int(1, 400) }),
    create_ticket: () => ({ title: sentence().slice(0, 60), priority: pick(["low", "medium", "high"]), labels: [pick(WORDS), pick(WORDS)] }),
  })[name]();
  const toolOutput = (name) => {
    if (name === "read_file") return code() + "\n" + text(40, 300);
    const out = {
      search_docs: () => ({ results: Array.from({ length: int(2, 5) }, () => ({ title: sentence().slice(0, 50), url: `https://docs.example.com/${pick(WORDS)}/${pick(WORDS)}-${int(1, 99)}`, score: +rnd().toFixed(3), snippet: text(60, 240) })) }),
      run_sql: () => ({ rowCount: int(1, 8), rows: Array.from({ length: int(1, 8) }, () => ({ id: uuid(), [pick(WORDS)]: int(0, 99999), status: pick(["open", "paid", "failed", "pending"]) })) }),
      get_weather: () => ({ city: pick(CITIES), temp_c: int(-10, 35), conditions: pick(["clear", "light rain", "overcast", "snow"]), forecast: Array.from({ length: int(2, 5) }, (_, d) => ({ day: d + 1, high: int(0, 35), low: int(-15, 20) })) }),
      create_ticket: () => ({ id: `TCK-${int(1000, 99999)}`, status: "created", url: `https://tracker.example.com/t/${hex(10)}` }),
    }[name]();
    return JSON.stringify(out, null, rnd() < 0.5 ? 2 : undefined);
  };
  return { rnd, int, pick, uuid, b62, sentence, text, code, toolArgs, toolOutput };
}

export function conversationMessages(count, seed = 1) {
  const g = makeGen(seed);
  const msgs = [];
  const push = (m) => msgs.length < count && msgs.push(m);
  const usage = () => {
    const input = g.int(200, 9000), output = g.int(10, 900);
    return { input_tokens: input, output_tokens: output, total_tokens: input + output };
  };
  const aiMeta = () => ({ model_name: g.pick(["gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022"]), finish_reason: "stop" });
  if (g.rnd() < 0.7) push(new SystemMessage({ id: g.uuid(), content: `You are a helpful engineering assistant. ${g.text(150, 700)}` }));
  while (msgs.length < count) {
    push(new HumanMessage({ id: g.uuid(), content: g.text(20, 400) }));
    const rounds = g.rnd() < 0.6 ? g.int(1, 3) : 0;
    for (let r = 0; r < rounds && msgs.length < count; r++) {
      const calls = Array.from({ length: g.rnd() < 0.8 ? 1 : 2 }, () => {
        const name = g.pick(TOOLS);
        return { name, args: g.toolArgs(name), id: `call_${g.b62(24)}`, type: "tool_call" };
      });
      push(new AIMessage({ id: `run-${g.uuid()}`, content: g.rnd() < 0.5 ? "" : g.text(20, 200), tool_calls: calls,
        response_metadata: { ...aiMeta(), finish_reason: "tool_calls" }, usage_metadata: usage() }));
      for (const c of calls) push(new ToolMessage({ id: g.uuid(), name: c.name, tool_call_id: c.id, content: g.toolOutput(c.name) }));
    }
    const body = g.text(150, 1200) + (g.rnd() < 0.25 ? `\n\n${g.code()}` : "");
    push(new AIMessage({ id: `run-${g.uuid()}`, content: body, response_metadata: aiMeta(), usage_metadata: usage() }));
  }
  return msgs;
}

const serde = new JsonPlusSerializer();

/** Bytes a checkpointer stores as the "messages" channel blob for this state. */
export async function serializedMessagesBlob(count, seed = 1) {
  const [, bytes] = await serde.dumpsTyped(conversationMessages(count, seed));
  return bytes;
}
