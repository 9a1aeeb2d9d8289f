/**
 * Activation work that schedules run (`platform.jobs`): `activation.run` exports whatever is due at the slot
 * the scheduler fired for — one dataflow (`dataflowId`) or every enabled dataflow of the sandbox — and
 * `activation.stream` sends the membership changes of streaming dataflows once. A slot's failed audiences make
 * the job fail with `RT_ACTIVATION_RUN_FAILED`, so the scheduler's retry continues the same run (same id, same
 * files); audiences already exported for the slot are not sent again.
 */
import { Type, type Static } from 'typebox';
import { assertValid } from '../core/validation.ts';
import type { JobKind } from '../platform/jobs.ts';
import type { ActivationService } from './service.ts';

export const RunJobParams = Type.Object(
  { dataflowId: Type.Optional(Type.String({ minLength: 1, description: 'The dataflow to run (default: every enabled dataflow of the sandbox)' })) },
  { additionalProperties: false },
);
type RunJobParamsT = Static<typeof RunJobParams>;

const runParams = (params: unknown): RunJobParamsT => assertValid<RunJobParamsT>(RunJobParams, params, 'RT_SCHEDULE_INVALID', 'job.params');

export function activationJobKinds(activation: ActivationService): JobKind[] {
  return [
    {
      kind: 'activation.run',
      description: 'Export the audiences of activation dataflows whose schedule slot is due ({ dataflowId? }); schedule it hourly',
      validate: (params) => void runParams(params),
      run: async ({ sandbox, params, scheduledFor }) => {
        const { dataflowId } = runParams(params);
        const outcome = await activation.runScheduled(sandbox, dataflowId, scheduledFor);
        return { rowCount: outcome.profiles, message: outcome.message };
      },
    },
    {
      kind: 'activation.stream',
      description: 'Send membership changes of streaming (API) dataflows since their checkpoint, once ({})',
      run: async ({ sandbox }) => {
        await activation.pollStreaming(sandbox);
        return { message: 'Streaming dataflows polled.' };
      },
    },
  ];
}
