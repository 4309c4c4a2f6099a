/** One HTTP request over raw node:http, so the path goes on the wire exactly as written. */
import { request } from 'node:http';

export interface RawAnswer {
  status: number;
  text: string;
}

export function rawRequest(baseUrl: string, method: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  const all = { ...headers };
  if (body.length > 0 || method === 'POST') all['content-length'] ??= String(body.length);
  return new Promise((resolve, reject) => {
    const r = request({ host: url.hostname, port: url.port, method, path, headers: all }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}
