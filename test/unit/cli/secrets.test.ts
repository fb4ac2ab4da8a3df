import { describe, expect, it } from "vitest";
import { printable, table } from "../../../src/cli/format.js";
import { maskSecrets, passwordsIn } from "../../../src/cli/secrets.js";

/**
 * The command-line tool's last line of defence before printing: passwords
 * of the connection strings it was given are masked even where the
 * redaction pattern would miss them, and terminal control characters are
 * shown escaped.
 */
describe("passwordsIn / maskSecrets", () => {
  it("finds the password of a URL up to the last @ of its authority, raw and decoded", () => {
    expect(passwordsIn(["postgres://app:p@ss@db.internal:5432/agents"])).toEqual(["p@ss"]);
    expect(passwordsIn(["postgresql://app:pa ss word@db/x?sslmode=require"])).toEqual(["pa ss word"]);
    expect(passwordsIn(["postgres://app:s%40cret%2Fx@db/x"]).sort()).toEqual(["s%40cret%2Fx", "s@cret/x"]);
    expect(passwordsIn(["postgres://app@db/x?password=hunter22&sslmode=require"])).toEqual(["hunter22"]);
    expect(passwordsIn(["host=db user=app password='long secret'"])).toEqual(["long secret"]);
    // No password, or one too short to mask without garbling messages.
    expect(passwordsIn(["postgres://app@db/x", "postgres://app:abc@db/x", "--limit", undefined])).toEqual([]);
  });

  it("masks every known password before the pattern runs, so no fragment is left", () => {
    const url = "postgres://app:p@ss word-9@db.internal:5432/agents";
    const passwords = passwordsIn([url]);
    const message = `not a valid connection string: ${url}; retried ${url}`;
    const masked = maskSecrets(message, passwords);
    expect(masked).toBe("not a valid connection string: postgres://app:***@db.internal:5432/agents; retried postgres://app:***@db.internal:5432/agents");
    expect(masked).not.toMatch(/ss|word/);
    // Without known passwords it is the usual redaction.
    expect(maskSecrets("postgres://u:secret@h/db", [])).toBe("postgres://u:***@h/db");
  });
});

describe("printable", () => {
  it("escapes what would act on a terminal and keeps everything else", () => {
    expect(printable("a\u001b[2Jb\rc\u0007d\u009be\u202ef\u2028g\u0000h")).toBe("a\\u001b[2Jb\\rc\\u0007d\\u009be\\u202ef\\u2028g\\u0000h");
    expect(printable("plain: 日本語 émoji 🙂, tabs\tand\nnewlines")).toBe("plain: 日本語 émoji 🙂, tabs\\tand\\nnewlines");
  });

  it("keeps table cells on one line and their columns aligned", () => {
    const text = table(["ID", "N>"], [["a\u001b[31m\r", 1], ["b", 22]]);
    expect(text).toBe(`ID${" ".repeat(14)}N\na\\u001b[31m\\r   1\nb${" ".repeat(14)}22\n`);
  });
});
