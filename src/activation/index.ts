/**
 * Activation: dataflows that send audiences to destinations on a schedule (batch files) or on membership
 * change (API destinations), with consent, data usage governance, run history and the activation log
 * the insights read. `docs/activation.md` describes it.
 */
export { ActivationService, type ActivationDeps } from './service.ts';
export { activationJobKinds } from './jobs.ts';
export { ACTIVATION_LOG_TABLE, ACTIVATION_MAPPINGS_TABLE } from './activation-log.ts';
