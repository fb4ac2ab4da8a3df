import { type Registry, register as globalRegistry } from "prom-client";

/** The parts of `http.IncomingMessage` / `http.ServerResponse` used (so the types need no @types/node). */
export interface MetricsRequest {
  method?: string | undefined;
  url?: string | undefined;
}
export interface MetricsResponse {
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(body?: string): unknown;
}

/**
 * A `node:http` request listener that serves the registry in Prometheus text
 * format at `path` (GET or HEAD) and 404 elsewhere:
 * `http.createServer(metricsHandler()).listen(9464)`.
 */
export function metricsHandler(
  registry: Registry = globalRegistry,
  path = "/metrics",
): (request: MetricsRequest, response: MetricsResponse) => Promise<void> {
  return async (request, response) => {
    const pathname = (request.url ?? "/").split("?")[0];
    if (pathname !== path || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("not found\n");
      return;
    }
    try {
      const body = await registry.metrics();
      response.writeHead(200, { "content-type": registry.contentType });
      response.end(request.method === "HEAD" ? undefined : body);
    } catch (error) {
      response.writeHead(500, { "content-type": "text/plain" });
      response.end(`could not collect metrics: ${(error as Error).message}\n`);
    }
  };
}
