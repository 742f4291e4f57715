// Bench pub/sub peer on Node: the http module plus the `ws` package.
// Protocol: see README.md in this folder. Run: node node-ws-pubsub.mjs
import http from "node:http";
import { WebSocketServer } from "ws";

const port = Number(process.env.PORT);
if (!/^\d+$/.test(process.env.PORT ?? "") || port > 65535) {
  console.error("PORT must be set to a TCP port number");
  process.exit(2);
}

const channels = new Map(); // channel name -> Set of open sockets
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const channel = url.searchParams.get("channel");
  if (req.method === "POST" && url.pathname === "/publish" && channel) {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      // One Buffer for every subscriber: ws only adds a 2-10 byte header per send.
      const body = Buffer.concat(chunks);
      for (const ws of channels.get(channel) ?? []) ws.send(body, { binary: false });
      res.writeHead(204).end();
    });
  } else if (req.method === "GET" && url.pathname === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ connections: wss.clients.size }));
  } else {
    res.writeHead(404).end("not found\n");
  }
});

server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const channel = url.searchParams.get("channel");
  if (url.pathname !== "/ws" || !channel) {
    socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (!channels.has(channel)) channels.set(channel, new Set());
    const subscribers = channels.get(channel).add(ws);
    ws.on("error", () => {}); // a broken client only closes its own socket
    ws.on("close", () => {
      subscribers.delete(ws);
      if (subscribers.size === 0) channels.delete(channel);
    });
  });
});

server.listen(port, "127.0.0.1", () => console.log(`listening ${server.address().port}`));

function shutdown() {
  for (const ws of wss.clients) ws.terminate();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
