/** `host:port` (the `metrics-listen` setting), e.g. `127.0.0.1:9464`, `[::1]:0`, `:9464` (loopback). */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`metrics-listen must be host:port (e.g. 127.0.0.1:9464), got "${address}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
