import { checkPrivileges } from '../probes/privileges.js';
import { ProcessRunner } from '../probes/tools/process-runner.js';
import { configOrExitCode } from './errors.js';

/** `check-privileges`: can fping and mtr send ICMP here? Prints the report; exit 1 when not. */
export async function checkPrivilegesCommand(): Promise<number> {
  const cfg = configOrExitCode({ selfProbe: false });
  if (typeof cfg === 'number') return cfg;
  const env = cfg.env;
  const report = await checkPrivileges(new ProcessRunner(2), env.FPING_PATH, env.MTR_PATH);
  console.log(JSON.stringify(report, null, 2));
  if (report.problem) console.error(`problem: ${report.problem}`);
  return report.problem ? 1 : 0;
}
