/**
 * OpenTelemetry spans through `@opentelemetry/api`, an optional peer: when it
 * is not installed, or no SDK is registered, tracing costs next to nothing.
 * Only the few members used are typed here, so the package's types do not
 * depend on the API being installed.
 */

export type Attributes = Record<string, string | number | boolean>;

export interface SpanLike {
  isRecording(): boolean;
  setAttributes(attributes: Attributes): unknown;
  recordException(exception: { name: string; message: string; stack?: string }): void;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): {
      startActiveSpan<T>(name: string, options: { kind: number }, fn: (span: SpanLike) => T): T;
    };
  };
}

/** `SpanKind.CLIENT` and `SpanStatusCode.ERROR`, fixed by the OpenTelemetry specification. */
const SPAN_KIND_CLIENT = 2;
export const SPAN_STATUS_ERROR = 2;

const TRACER_NAME = "langgraph-checkpoint-pg";

let api: OtelApi | null | undefined;
// Loaded once, at import, so no operation waits for it; until it settles
// (one tick) operations simply run untraced.
const loading: Promise<unknown> = import("@opentelemetry/api").then(
  (module) => {
    api = ((module as { default?: OtelApi }).default ?? module) as OtelApi;
  },
  () => {
    api = null;
  },
);

/** Resolves once we know whether `@opentelemetry/api` is available. */
export function tracingReady(): Promise<unknown> {
  return loading;
}

/**
 * Runs `fn` inside an active span named `name` (so spans of an instrumented
 * pg driver nest under it), or without one when tracing is unavailable.
 */
export function inSpan<T>(name: string, fn: (span: SpanLike | undefined) => Promise<T>): Promise<T> {
  if (!api) return fn(undefined);
  // The tracer is looked up per call on purpose: an SDK registered after this
  // module loaded (the usual order in apps) is picked up.
  return api.trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind: SPAN_KIND_CLIENT }, fn);
}
