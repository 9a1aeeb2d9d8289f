/**
 * Job kinds of insights, registered on `platform.jobs` so that a schedule can run them:
 * `insights.refresh` (params: `model`, default `CDPInsights`; `full`, default false; `processDate`).
 */
import { RoundtripError } from '../core/errors.ts';
import type { JobKind } from '../platform/jobs.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import type { InsightsService } from './service.ts';

function refreshParams(params: Record<string, JsonValue>): { model: string; full: boolean; processDate?: string } {
  const { model = 'CDPInsights', full = false, processDate } = params;
  if (typeof model !== 'string') throw new RoundtripError('RT_INSIGHTS_REFRESH_PARAMS', 'insights.refresh: `model` is a model name.');
  if (typeof full !== 'boolean') throw new RoundtripError('RT_INSIGHTS_REFRESH_PARAMS', 'insights.refresh: `full` is true or false.');
  if (processDate !== undefined && (typeof processDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(processDate))) {
    throw new RoundtripError('RT_INSIGHTS_REFRESH_PARAMS', 'insights.refresh: `processDate` is a date, YYYY-MM-DD.');
  }
  return { model, full, ...(processDate ? { processDate } : {}) };
}

export function insightsJobKinds(insights: InsightsService): JobKind[] {
  return [
    {
      kind: 'insights.refresh',
      description: 'Refresh an insights data model (CDPInsights by default): incremental unless `full` is true.',
      validate: (params) => void refreshParams(params),
      run: async ({ principal, sandbox, params }) => {
        const { model, full, processDate } = refreshParams(params);
        const run = await insights.refresh(principal, sandbox, model, { full, ...(processDate ? { processDate } : {}) });
        return { rowCount: run.profilesRecomputed, message: `${run.mode} refresh of ${model} for ${run.processDate}: ${run.datesRecomputed} dates, ${run.profilesRecomputed} profiles recomputed` };
      },
    },
  ];
}
