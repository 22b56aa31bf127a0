import { loadConfig } from '../config/load-config.js';
import { checkPrivileges } from '../probes/privileges.js';
import { ProcessRunner } from '../probes/tools/process-runner.js';
import { reportOperatorError } from './errors.js';

/** `check-privileges`: can fping and mtr send ICMP here? Prints the report; exit 1 when not. */
export async function checkPrivilegesCommand(): Promise<number> {
  let env;
  try {
    env = loadConfig(process.env, { selfProbe: false }).env;
  } catch (err) {
    const code = reportOperatorError(err);
    if (code !== undefined) return code;
    throw err;
  }
  const report = await checkPrivileges(new ProcessRunner(2), env.FPING_PATH, env.MTR_PATH);
  console.log(JSON.stringify(report, null, 2));
  if (report.problem) console.error(`problem: ${report.problem}`);
  return report.problem ? 1 : 0;
}
