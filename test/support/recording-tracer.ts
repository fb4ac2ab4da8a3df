import { type Attributes, type Span, type SpanOptions, type Tracer, type TracerProvider, trace } from "@opentelemetry/api";

/**
 * The smallest real OpenTelemetry tracer provider: registered globally
 * through `@opentelemetry/api`, it records every span the code under test
 * starts (what an SDK with an in-memory exporter would keep).
 */
export interface RecordedSpan {
  name: string;
  kind: number | undefined;
  attributes: Attributes;
  exceptions: Array<{ name?: string; message?: string }>;
  status: { code: number; message?: string | undefined } | undefined;
  ended: boolean;
}

export function registerRecordingTracer(): RecordedSpan[] {
  const spans: RecordedSpan[] = [];
  const start = (name: string, options: SpanOptions = {}): Span => {
    const record: RecordedSpan = {
      name, kind: options.kind, attributes: { ...options.attributes }, exceptions: [], status: undefined, ended: false,
    };
    spans.push(record);
    const span: Span = {
      spanContext: () => ({ traceId: "0".repeat(31) + "1", spanId: "0".repeat(15) + "1", traceFlags: 1 }),
      setAttribute(key, value) {
        if (value !== undefined) record.attributes[key] = value;
        return span;
      },
      setAttributes(attributes) {
        Object.assign(record.attributes, attributes);
        return span;
      },
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus(status) {
        record.status = status;
        return span;
      },
      updateName(newName) {
        record.name = newName;
        return span;
      },
      end() {
        record.ended = true;
      },
      isRecording: () => !record.ended,
      recordException(exception) {
        record.exceptions.push(typeof exception === "string" ? { message: exception } : exception);
      },
    };
    return span;
  };
  const tracer: Tracer = {
    startSpan: (name, options) => start(name, options),
    startActiveSpan(name: string, ...rest: unknown[]) {
      const fn = rest.at(-1) as (span: Span) => unknown;
      const options = (rest.length > 1 ? rest[0] : {}) as SpanOptions;
      return fn(start(name, options));
    },
  } as Tracer;
  const provider: TracerProvider = { getTracer: () => tracer };
  if (!trace.setGlobalTracerProvider(provider)) throw new Error("a tracer provider was already registered");
  return spans;
}
