/**
 * The demo: one command that runs the whole round trip on a fresh data directory — generate, collect (batch and
 * streaming), resolve, compute CLV, build and evaluate audiences, activate one, mail a campaign and simulate its
 * responses, refresh the insights — and prints a summary of every step (`docs/demo.md`).
 *
 * Steps live one group per module (`setup`, `collect`, `resolve`, `compute`, `audiences`, `act`, `measure`);
 * `runner.ts` runs them, `serve.ts` serves the result.
 */
import type { Step } from './context.ts';
import { generateStep, ingestStep, streamStep } from './collect.ts';
import { resolveStep } from './resolve.ts';
import { clvAttributesStep, clvPredictStep } from './compute.ts';
import { audiencesStep } from './audiences.ts';
import { activateStep, campaignStep } from './act.ts';
import { measureStep } from './measure.ts';
import { initStep } from './setup.ts';

export const DEMO_STEPS: readonly Step[] = [initStep, generateStep, ingestStep, streamStep, resolveStep, clvAttributesStep, clvPredictStep, audiencesStep, activateStep, campaignStep, measureStep];

export { runDemo, formatSummary, type DemoRun, type StepRecord } from './runner.ts';
export type { DemoOptions, DemoContext, Step, StepResult } from './context.ts';
