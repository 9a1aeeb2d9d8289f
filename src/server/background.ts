/**
 * Work that runs only while a server owns the data directory (`roundtrip serve`, `start`, and the demo when it
 * serves): the scheduler's timer and the streaming-activation poll. One place, so every way of serving starts
 * the same things.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Platform } from '../platform/platform.ts';

export function startBackgroundWork(platform: Platform, logger: FastifyBaseLogger): void {
  platform.schedules.start({ logger });
  platform.activation.startStreaming();
}
