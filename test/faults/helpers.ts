/** Fault-injection helpers: a small real file system (tmpfs) to run out of space on, and a filler to take it. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SmallDisk {
  readonly dir: string;
  /** Takes all free space but `leaveBytes` (a filler file). */
  fill(leaveBytes?: number): void;
  /** Gives the filler's space back. */
  free(): void;
  freeBytes(): number;
  remove(): void;
}

/** Mounts a tmpfs of `sizeMiB` (needs root, as `make test` runs here) on a fresh temp dir. */
export function smallDisk(sizeMiB: number): SmallDisk {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-fault-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir]);
  const filler = path.join(dir, 'filler');
  const freeBytes = () => {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize;
  };
  return {
    dir,
    freeBytes,
    fill(leaveBytes = 0) {
      const fd = fs.openSync(filler, 'a');
      try {
        const chunk = Buffer.alloc(64 * 1024);
        for (;;) {
          const want = freeBytes() - leaveBytes;
          if (want <= 0) break;
          try {
            fs.writeSync(fd, chunk, 0, Math.min(chunk.length, want));
          } catch {
            break;
          }
        }
      } finally {
        fs.closeSync(fd);
      }
    },
    free() {
      fs.rmSync(filler, { force: true });
    },
    remove() {
      try {
        execFileSync('umount', ['-l', dir]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10000, everyMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
