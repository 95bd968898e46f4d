/**
 * Role-based OPC UA accounts for people and SCADA clients (viewer, operator, engineer), next to the industrial agents'
 * own accounts. Each maps to a Cedar operator principal `spiffe://<trust-domain>/operator/opcua-<name>` whose roles are
 * the account's role, so the policy that decides API calls and Modbus writes decides its OPC UA writes too.
 * Passwords are stored as scrypt hashes with a random salt per account (`<stateDir>/opcua/users.json`, mode 0600),
 * never in clear; a provisioned password is shown once, to whoever provisioned it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, quote } from '../../errors';
import { opcuaDir } from './pki';

export const OPCUA_ROLES = ['viewer', 'operator', 'engineer'] as const;
export type OpcuaRole = (typeof OPCUA_ROLES)[number];

export interface OpcuaAccount {
  readonly name: string;
  readonly role: OpcuaRole;
  /** Zone the account's clients connect from (the Cedar principal's zone). */
  readonly zone: string;
  readonly created_at: string;
}

interface StoredAccount extends OpcuaAccount {
  readonly salt: string;
  readonly hash: string;
}

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;
// scrypt cost: N=2^15 (32 MiB with r=8), about 60 ms per check here: slows guessing, bounded memory per login.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_LEN = 32;

function hash(password: string, salt: Buffer): Buffer {
  return crypto.scryptSync(password, salt, KEY_LEN, SCRYPT);
}

// Logins hash on libuv's thread pool: a burst of them never stalls the event loop the Modbus gateway shares.
function hashAsync(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => crypto.scrypt(password, salt, KEY_LEN, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

/** The Cedar operator name of an OPC UA account (distinct from API operators of the same name). */
export function operatorName(account: string): string {
  return `opcua-${account}`;
}

export class OpcuaUserStore {
  readonly file: string;
  #accounts: StoredAccount[];
  // Checked against for unknown names, so a wrong name costs the same time as a wrong password.
  readonly #decoy = { salt: crypto.randomBytes(16), hash: Buffer.alloc(KEY_LEN) };

  /** @param onChange called after every provision and removal (e.g. to refresh the policy's principals) */
  constructor(stateDir: string, private readonly onChange: () => void = () => undefined) {
    this.file = path.join(opcuaDir(stateDir), 'users.json');
    this.#accounts = this.#load();
  }

  #load(): StoredAccount[] {
    if (!fs.existsSync(this.file)) return [];
    try {
      const doc = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { accounts?: StoredAccount[] };
      return Array.isArray(doc.accounts) ? doc.accounts : [];
    } catch (err) {
      throw new GlimmerError('GLM_ERR_OPCUA_USER_INVALID', `OPC UA account store ${quote(this.file)} is unreadable: ${(err as Error).message}`, { cause: err });
    }
  }

  #save(accounts: StoredAccount[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ accounts }, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.#accounts = accounts;
    this.onChange();
  }

  list(): OpcuaAccount[] {
    return this.#accounts.map(({ name, role, zone, created_at }) => ({ name, role, zone, created_at }));
  }

  get(name: string): OpcuaAccount | undefined {
    return this.list().find((a) => a.name === name);
  }

  /** Creates or replaces an account; returns the password (generated unless given). */
  provision(name: string, role: string, zone: string, password?: string): { account: OpcuaAccount; password: string } {
    if (!NAME.test(name)) throw new GlimmerError('GLM_ERR_OPCUA_USER_INVALID', `OPC UA account name must match ${NAME.source}, received ${quote(name)}`);
    if (!(OPCUA_ROLES as readonly string[]).includes(role)) throw new GlimmerError('GLM_ERR_OPCUA_USER_INVALID', `OPC UA role must be one of ${OPCUA_ROLES.join(', ')}, received ${quote(role)}`);
    if (password !== undefined && password.length < 12) throw new GlimmerError('GLM_ERR_OPCUA_USER_INVALID', 'an OPC UA password needs at least 12 characters');
    const secret = password ?? crypto.randomBytes(18).toString('base64url');
    const salt = crypto.randomBytes(16);
    const account: StoredAccount = { name, role: role as OpcuaRole, zone, created_at: new Date().toISOString(), salt: salt.toString('base64'), hash: hash(secret, salt).toString('base64') };
    this.#save([...this.#accounts.filter((a) => a.name !== name), account]);
    const { salt: _s, hash: _h, ...visible } = account;
    return { account: visible, password: secret };
  }

  remove(name: string): boolean {
    const kept = this.#accounts.filter((a) => a.name !== name);
    if (kept.length === this.#accounts.length) return false;
    this.#save(kept);
    return true;
  }

  /** The account when `password` is its password; undefined otherwise (same cost for unknown names). */
  async verify(name: string, password: string): Promise<OpcuaAccount | undefined> {
    const a = this.#accounts.find((x) => x.name === name);
    const salt = a ? Buffer.from(a.salt, 'base64') : this.#decoy.salt;
    const expected = a ? Buffer.from(a.hash, 'base64') : this.#decoy.hash;
    const ok = crypto.timingSafeEqual(await hashAsync(password, salt), expected.length === KEY_LEN ? expected : Buffer.alloc(KEY_LEN));
    return ok && a ? this.get(name) : undefined;
  }
}
