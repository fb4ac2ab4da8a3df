export { PostgresSaver } from "./saver.js";
export {
  CheckpointerError,
  CheckpointerClosedError,
  CheckpointerDatabaseError,
  InvalidInputError,
  InvalidOptionsError,
  MigrationError,
  SerializationError,
} from "./errors.js";
export type { CheckpointerErrorCode } from "./errors.js";
export type { Logger, PostgresSaverOptions } from "./options.js";
export type { PgPool, PgPoolClient } from "./pool.js";
export { LATEST_VERSION as SCHEMA_VERSION } from "./migrations.js";
