/**
 * Secrets never reach check-config, config errors, logs or tags. A value is
 * secret when its variable's name says so (TOKEN, PASSWORD, SECRET, KEY...);
 * inside any URL the userinfo and secret-looking query parameters are.
 */

export const REDACTED = '<redacted>';

const SECRET_NAME = /(TOKEN|PASSWORD|PASSWD|SECRET|_KEY|APIKEY|PASSPHRASE|CREDENTIALS?)$/i;
/** Variables that are secret without saying so in their name. */
const SECRET_VARS = new Set(['REDIS_URL']);
const SECRET_PARAM = /^(key|api[-_]?key|token|access[-_]?token|auth|authorization|password|passwd|pass|pwd|secret|client[-_]?secret|sig|signature|x-amz-signature|x-goog-signature|credential|session)$/i;

export function isSecretVariable(name: string): boolean {
  return SECRET_NAME.test(name) || SECRET_VARS.has(name);
}

/** A URL with userinfo and secret-looking query values replaced; unparsable input is redacted whole. */
export function redactUrl(u: string): string {
  if (!u.includes('://')) return u;
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return REDACTED;
  }
  let changed = false;
  if (url.username || url.password) {
    url.username = 'redacted';
    url.password = '';
    changed = true;
  }
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_PARAM.test(key)) {
      url.searchParams.set(key, 'redacted');
      changed = true;
    }
  }
  return changed ? url.toString() : u;
}

/** The value of an environment variable as it may be shown. */
export function redactEnvValue(name: string, value: string): string {
  if (name === 'REDIS_URL') return redactUrl(value);
  if (isSecretVariable(name)) return REDACTED;
  // URLs anywhere (INFLUXDB_URLS, TARGET_FQDNS entries, SITES' name=URL entries): each one redacted.
  if (/_URLS?$/.test(name) || value.includes('://')) {
    return value
      .split(',')
      .map((v) => {
        const named = /^([A-Za-z0-9_.:-]+)=([a-z][a-z0-9+.-]*:\/\/.*)$/i.exec(v.trim());
        return named ? `${named[1]}=${redactUrl(named[2]!)}` : redactUrl(v.trim());
      })
      .join(',');
  }
  return value;
}
