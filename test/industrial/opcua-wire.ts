/**
 * A TCP relay between an OPC UA client and server that reads the OPC UA Connection Protocol headers both ways, as a
 * strict independent stack sees them: the message type of every chunk, the status code of an ERR message, and the
 * TokenId of every symmetric chunk (sent in clear, Part 6 6.7.2.3), with the time it passed.
 */
import net from 'node:net';

export interface WireChunk {
  readonly dir: 'c2s' | 's2c';
  readonly type: string;
  readonly at: number;
  readonly tokenId?: number;
  /** ERR: the StatusCode and its reason text. */
  readonly status?: number;
  readonly reason?: string;
}

export interface WireRelay {
  readonly port: number;
  readonly chunks: WireChunk[];
  close(): Promise<void>;
}

function reader(dir: 'c2s' | 's2c', out: WireChunk[]): (data: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (data) => {
    pending = Buffer.concat([pending, data]);
    while (pending.length >= 8) {
      const size = pending.readUInt32LE(4);
      if (size < 8 || pending.length < size) break;
      const chunk = pending.subarray(0, size);
      pending = pending.subarray(size);
      const type = chunk.toString('latin1', 0, 3);
      const at = Date.now();
      if (type === 'ERR' && size >= 16) {
        const len = chunk.readInt32LE(12);
        out.push({ dir, type, at, status: chunk.readUInt32LE(8), reason: len > 0 ? chunk.toString('utf8', 16, 16 + len) : '' });
      } else if ((type === 'MSG' || type === 'CLO') && size >= 16) {
        out.push({ dir, type, at, tokenId: chunk.readUInt32LE(12) });
      } else {
        out.push({ dir, type, at });
      }
    }
  };
}

export async function startWireRelay(target: { host: string; port: number }): Promise<WireRelay> {
  const chunks: WireChunk[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const c2s = reader('c2s', chunks);
    const s2c = reader('s2c', chunks);
    client.on('data', (d: Buffer) => { c2s(d); upstream.write(d); });
    upstream.on('data', (d: Buffer) => { s2c(d); client.write(d); });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    chunks,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
