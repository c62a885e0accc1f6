/** A listen address from a flag or the environment: `host:port` (`[::1]:8080` for IPv6), or off. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * `undefined`, `''` and `off` turn the listener off. A bare port or a host without one is refused:
 * `9464` would bind every interface by accident, and a metrics port on 0.0.0.0 should be a choice.
 */
export function parseListenAddress(value: string | undefined, name: string): ListenAddress | undefined {
  const text = value?.trim();
  if (!text || text.toLowerCase() === 'off') return undefined;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65_535)
    throw new Error(`${name}: "${text}" is not host:port or off, e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::]:9464`);
  return { host: match[1] ?? match[2], port };
}

/** A listener (metrics, health) could not bind: a setting to fix, so the message names it and no stack follows. */
export class ListenError extends Error {
  override name = 'ListenError';
  constructor(what: string, address: ListenAddress, reason: string, setting: string) {
    super(
      `${what} cannot listen on ${formatListenAddress(address)} (${reason}): set ${setting} to a free port, or off`,
    );
  }
}

/** `host:port`, bracketing an IPv6 host, as the Prometheus exporter and URLs want it. */
export function formatListenAddress({ host, port }: ListenAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
