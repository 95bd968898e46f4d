/**
 * Deployment configuration that lives outside the release (a pod's ConfigMap) cannot be in the signed release
 * manifest, so the deployment pins it: `GLIMMER_CONFIG_SHA256="glimmer.yml=<sha256>,cognitive.yml=<sha256>"`, which
 * the stacks compute from the same rendered text the ConfigMap carries. Measured boot checks such a file against its
 * pin and refuses an unpinned one, exactly as it refuses an artifact the release manifest does not list.
 */
import { GlimmerError, quote } from '../errors';

export const CONFIG_PINS_ENV = 'GLIMMER_CONFIG_SHA256';

/** File name (no directory) -> lowercase hex sha256. */
export type ConfigPins = Readonly<Record<string, string>>;

const ENTRY = /^([A-Za-z0-9._-]{1,128})=([0-9a-f]{64})$/;

export function parseConfigPins(text: string | undefined): ConfigPins {
  const pins: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return pins;
  for (const raw of text.split(',')) {
    const m = ENTRY.exec(raw.trim());
    if (!m) {
      throw new GlimmerError('GLM_ERR_BOOT_CONFIG_PIN_INVALID', `${CONFIG_PINS_ENV} entry ${quote(raw.trim(), 120)} is not <file name>=<64 lowercase hex digits>`);
    }
    const [, name, sha] = m as unknown as [string, string, string];
    if (name in pins) throw new GlimmerError('GLM_ERR_BOOT_CONFIG_PIN_INVALID', `${CONFIG_PINS_ENV} pins ${quote(name)} twice`);
    pins[name] = sha;
  }
  return pins;
}
