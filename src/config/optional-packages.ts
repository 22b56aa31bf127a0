import { createRequire } from 'node:module';

/**
 * geoip-lite carries a 150 MB database, so it is not a dependency of the
 * default install (GEO is off by default); GEO=offline asks for it, and the
 * configuration check says how to install it (geo/offline-backend.ts loads it).
 */
export const GEOIP_LITE_INSTALL = 'npm install --no-save geoip-lite@1.4';

/** Is geoip-lite installed where the daemon can import it? */
export function geoipLiteInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('geoip-lite');
    return true;
  } catch {
    return false;
  }
}
