import { JsonPlusSerializer, type SerializerProtocol } from "@langchain/langgraph-checkpoint";
import { type ResolvedRevive, type ReviveOptions, resolveRevive } from "../config/revive.js";
import { prepareForJson } from "./guard.js";
import { revive } from "./reviver.js";

const decoder = new TextDecoder();

/**
 * LangGraph's `JsonPlusSerializer`, with values coming back exactly as they
 * went in: plain data shaped like a serialized LangChain object is stored
 * escaped (codec/plain-data.ts) and read back as the same plain data, and
 * only LangChain classes on the allow-list are revived (codec/reviver.ts).
 * Everything else is stored byte for byte as `JsonPlusSerializer` stores it,
 * and everything it stored is read as it reads it. `PostgresSaver` and
 * `MemoryCheckpointer` use it unless given another serializer.
 */
export class SafeJsonPlusSerializer extends JsonPlusSerializer {
  readonly revive: ResolvedRevive;

  constructor(private readonly options: ReviveOptions = {}) {
    super();
    this.revive = resolveRevive(options);
  }

  /** The same serializer with some revive settings changed. */
  with(overrides: ReviveOptions): SafeJsonPlusSerializer {
    return new SafeJsonPlusSerializer({ ...this.options, ...overrides });
  }

  override async dumpsTyped(value: unknown): Promise<[string, Uint8Array]> {
    return super.dumpsTyped(prepareForJson(value, "value", { strict: false, escape: true }));
  }

  /** `dumpsTyped` for a value the strict encoder's walk already escaped (one walk, not two). @internal */
  dumpsPrepared(value: unknown): Promise<[string, Uint8Array]> {
    return super.dumpsTyped(value);
  }

  override async loadsTyped(type: string, data: Uint8Array | string): Promise<any> {
    if (type !== "json") return super.loadsTyped(type, data);
    return revive(JSON.parse(typeof data === "string" ? data : decoder.decode(data)), this.revive);
  }

  /**
   * Metadata as `PostgresSaver` stores it: its top level is never wrapped
   * (Postgres queries and `list()` filters match its keys), only what it holds. @internal
   */
  loadsMetadata(json: string): Promise<unknown> {
    return revive(JSON.parse(json), this.revive, true);
  }
}

/**
 * The serializer a saver uses: ours by default, and in place of a plain
 * `JsonPlusSerializer` (the same format). Any other serializer (a subclass,
 * or another format) is used as given, and `revive` does not apply to it.
 */
export function serializerFor(serde: SerializerProtocol | undefined, revive: ReviveOptions | undefined): SerializerProtocol {
  if (serde === undefined || serde === null || (serde as object).constructor === JsonPlusSerializer) {
    return new SafeJsonPlusSerializer(revive);
  }
  return serde;
}
