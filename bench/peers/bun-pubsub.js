// Bench pub/sub peer on Bun: uWebSockets topics through Bun.serve.
// Protocol: see README.md in this folder. Run: node_modules/bun/bin/bun.exe bun-pubsub.js
const port = Number(process.env.PORT);
if (!/^\d+$/.test(process.env.PORT ?? "") || port > 65535) {
  console.error("PORT must be set to a TCP port number");
  process.exit(2);
}

let connections = 0;

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  async fetch(req, server) {
    const url = new URL(req.url);
    const channel = url.searchParams.get("channel");
    if (req.method === "GET" && url.pathname === "/ws" && channel) {
      if (server.upgrade(req, { data: { channel } })) return undefined;
      return new Response("websocket upgrade expected\n", { status: 426 });
    }
    if (req.method === "POST" && url.pathname === "/publish" && channel) {
      server.publish(channel, await req.text());
      return new Response(null, { status: 204 });
    }
    if (req.method === "GET" && url.pathname === "/stats") {
      return Response.json({ connections });
    }
    return new Response("not found\n", { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      connections++;
      ws.subscribe(ws.data.channel);
    },
    message() {},
    close() {
      connections--;
    },
  },
});

console.log(`listening ${server.port}`);

function shutdown() {
  server.stop(true);
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
