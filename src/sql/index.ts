/**
 * Every SQL statement this package sends lives in this folder, one file per
 * concern, each a set of named statements built once per schema. Values are
 * always `$n` parameters; the only thing interpolated is the schema, which
 * `quoteIdentifier` has escaped when the options were resolved.
 */
export { tableNames, type Tables } from "./tables.js";
export {
  buildStatements,
  type DeltaHistoryRow,
  type LegacySendsRow,
  type Statements,
  type ValueRow,
} from "./checkpoints.js";
export type { ListPageQuery, TupleRow } from "./tuples.js";
export { buildSetupStatements } from "./setup.js";
