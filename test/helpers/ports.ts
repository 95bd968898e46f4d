/**
 * Ports for servers that need a number before they start (OPC UA), and for servers a test stops and starts again on
 * the same port (a PLC, KMS or the API coming back).
 */
import fs from 'node:fs';
import net from 'node:net';

/**
 * A free loopback port outside the kernel's ephemeral range. A server that is restarted must get its port back, and a
 * port in the ephemeral range can be handed out meanwhile as the source port of any outgoing connection (another
 * test's, or a client reconnecting to that very port, which then connects to itself: TCP simultaneous open). Ports
 * below the range are only ever taken by an explicit bind.
 */
export async function restartablePort(): Promise<number> {
  const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** A free loopback TCP port (for servers that need a port number before they start, like OPC UA). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}
