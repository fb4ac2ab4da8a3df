// Big threads made fast. Writing 100,000 checkpoints through a saver takes
// minutes; copying one real checkpoint that the saver itself wrote takes
// seconds. Both savers use the same tables, so one SQL copy serves both. The
// copies get ids that sort before every real uuid6 id (so the saver's own
// later writes stay the newest), each names the previous copy as parent,
// and each has its own blobs for the channels the template stored, as a
// real thread does: a read that scanned a thread's blobs would show it.

/** Adds `count` copies of the newest checkpoint of thread `from` to thread `to` (which may be the same). */
export async function copyCheckpoints(pool, schema, { from, to, count }) {
  const s = schema;
  const id = (n) => `'00000000-0000-6000-8000-' || lpad(to_hex(${n}), 12, '0')`;
  await pool.query(
    `WITH template AS (
       SELECT * FROM ${s}.checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1
     ), template_blobs AS (
       SELECT b.channel, b.type, b.blob
       FROM template t, jsonb_each_text(t.checkpoint -> 'channel_versions') v, ${s}.checkpoint_blobs b
       WHERE b.thread_id = $1 AND b.checkpoint_ns = '' AND b.channel = v.key AND b.version = v.value
     ), copies AS (
       INSERT INTO ${s}.checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
       SELECT $2, '', ${id("n")}, CASE WHEN n > 1 THEN ${id("n - 1")} END, t.type,
              jsonb_set(
                jsonb_set(t.checkpoint, '{id}', to_jsonb(${id("n")})),
                '{channel_versions}',
                (t.checkpoint -> 'channel_versions') || (SELECT jsonb_object_agg(channel, n) FROM template_blobs)),
              t.metadata
       FROM template t, generate_series(1, $3::int) AS n
     )
     INSERT INTO ${s}.checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
     SELECT $2, '', b.channel, n::text, b.type, b.blob FROM template_blobs b, generate_series(1, $3::int) AS n`,
    [from, to, count],
  );
}

/**
 * The same for MemorySaver, whose storage is a plain object (thread →
 * namespace → id → serialized entry, channel values inline). The copies
 * share the template's bytes, so they also carry its id: fine for timing.
 */
export function copyMemoryCheckpoints(saver, { from, to, count }) {
  const source = saver.storage[from][""];
  const template = source[Object.keys(source).sort().at(-1)];
  const target = ((saver.storage[to] ??= Object.create(null))[""] ??= Object.create(null));
  for (let n = 1; n <= count; n += 1) target[`00000000-0000-6000-8000-${n.toString(16).padStart(12, "0")}`] = template;
}
