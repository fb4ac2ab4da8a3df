/**
 * The four tables, qualified by the schema. The schema is the only thing any
 * statement interpolates, and `quoteIdentifier` has escaped it when the
 * options were resolved; values are always `$n` parameters.
 */
export function tableNames(quotedSchema: string) {
  return {
    checkpoints: `${quotedSchema}.checkpoints`,
    blobs: `${quotedSchema}.checkpoint_blobs`,
    writes: `${quotedSchema}.checkpoint_writes`,
    migrations: `${quotedSchema}.checkpoint_migrations`,
  };
}

export type Tables = ReturnType<typeof tableNames>;
