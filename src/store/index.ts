/**
 * `langgraph-checkpoint-pg/store`: LangGraph's long-term memory on
 * PostgreSQL, a drop-in for `@langchain/langgraph-checkpoint-postgres/store`.
 */
export { PostgresStore } from "./store.js";
export { createStore } from "./factory.js";
export type { StoreFactoryOptions } from "./factory.js";
export type { PostgresStoreConfig, StoreTtlOptions } from "../config/store.js";
export {
  CheckpointerError,
  CheckpointerClosedError,
  CheckpointerDatabaseError,
  CheckpointerUnavailableError,
  InvalidInputError,
  InvalidOptionsError,
  MigrationError,
  PayloadTooLargeError,
  PoolExhaustedError,
} from "../errors.js";
