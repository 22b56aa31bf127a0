/**
 * Fields of every point whose timings are taken in JavaScript (http, tcp,
 * dns): how far the thread's event loop may have stretched them
 * (timing-slack.ts, docs/schema.md).
 */
export const TIMING_SLACK_FIELDS = {
  timing_slack_ms: 'float',
  timing_uncertain: 'boolean',
} as const;
