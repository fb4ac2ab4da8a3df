import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../../src/config/options.js";
import { createPool } from "../../../src/connection/pool.js";

describe("connection strings", () => {
  it("accept Unix-socket URLs (Cloud SQL) and refuse malformed ones without echoing the password", async () => {
    const options = resolveOptions({});
    const socket = createPool("postgres://app:s3cret@/agents?host=/cloudsql/proj:us-central1:db", options);
    await socket.end();
    expect(() => createPool("postgresql://app:s3cret@127.0.0.1:notaport/agents", options)).toThrow(/not a valid connection string: postgresql:\/\/app:\*\*\*@/);
  });
});
