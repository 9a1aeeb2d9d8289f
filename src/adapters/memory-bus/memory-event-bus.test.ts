import { describeEventBusContract } from '../../ports/event-bus.contract.ts';
import { MemoryEventBus } from './memory-event-bus.ts';

describeEventBusContract('in-process memory bus', { open: ({ maxBuffered }) => new MemoryEventBus({ maxBuffered }) });
