// static-server: the smallest HTTP server a WebGPU page needs. WebGPU wants a secure context,
// which http://127.0.0.1 is (file:// is not). Routes map a URL path to bytes in memory or to a
// file on disk; anything else is a 404. Used by the browser test runner and `demo:browser`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.gz': 'application/gzip',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
};

export type Route = string | Uint8Array | { file: string; };

/** Serve `routes` on 127.0.0.1 (port 0 picks a free one); resolves with the server and its base URL. */
export async function serve(routes: Record<string, Route>, port = 0): Promise<{ server: Server; url: string; }> {
  const server = createServer((req, res) => void respond(req, res));
  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = routes[path];
    if (route === undefined) {
      res.writeHead(404).end(`not found: ${path}`);
      return;
    }
    try {
      const body = typeof route === 'string' || route instanceof Uint8Array ? route : await readFile(route.file);
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? (path.endsWith('/') ? TYPES['.html']! : 'application/octet-stream') });
      res.end(body);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('static-server: no port');
  return { server, url: `http://127.0.0.1:${addr.port}` };
}
