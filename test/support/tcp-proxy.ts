import { Socket, createServer } from "node:net";

/**
 * A TCP proxy in front of a server, for faults no real server produces on
 * demand. `blackhole()` makes every open connection silently dead, as a
 * cloud NAT or load balancer does to an idle connection: the client's socket
 * stays open but nothing it sends is answered. New connections work.
 */
export interface TcpProxy {
  port: number;
  blackhole(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const silenced = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(targetPort, targetHost);
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("proxy has no port");
  return {
    port: address.port,
    blackhole() {
      for (const pair of pairs) {
        pairs.delete(pair);
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.upstream.removeAllListeners("close");
        pair.upstream.destroy();
        // The client side stays open and swallows whatever it is sent.
        pair.client.removeAllListeners("close");
        pair.client.on("data", () => {});
        silenced.add(pair.client);
      }
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      for (const socket of silenced) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
